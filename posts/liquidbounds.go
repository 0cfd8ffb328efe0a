package posts

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/render"
	yaml2 "gopkg.in/yaml.v2"
)

// Liquid is a language: a post's template can loop, build strings and include files without end. These
// bounds hold it, each a setting (LiquidBounds) with a safe default, and a post that reaches one stops the
// build with an error naming the post and the bound. osteele/liquid has no bounds of its own, so Herald
// adds them through its exported types: the writer it renders into counts the bytes, and so do the
// writers capture and highlight render their content into; the filters that grow a string or a list are
// registered again with a cap, those that encode a value (jsonify, json, inspect,
// array_to_sentence_string, join) write into a buffer that stops at the cap before the string is made;
// includes are counted; a post keeps at most maxWarnings warnings; and all of a post's Liquid work, its
// parsing included, runs within its time, past which it is abandoned (the process ends soon after: the
// build fails).
type LiquidBounds struct {
	Time     time.Duration // per post, every try and include together (default 10 s)
	Bytes    int           // the most one post's Liquid writes, captures included, and the longest string or list a filter builds (default 8 MiB)
	Includes int           // includes rendered per post (default 1,000), against fan-out; depth is capped at 16
}

func (b LiquidBounds) orDefaults() LiquidBounds {
	if b.Time <= 0 {
		b.Time = 10 * time.Second
	}
	if b.Bytes <= 0 {
		b.Bytes = 8 << 20
	}
	if b.Includes <= 0 {
		b.Includes = 1000
	}
	return b
}

// ErrLiquidBound is wrapped in the error of a post whose Liquid reached a bound.
var ErrLiquidBound = errors.New("posts: Liquid bound reached")

// boundError says which bound a render reached.
func boundError(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrLiquidBound}, a...)...)
}

// boundedCapture is the name capture is parsed under: osteele/liquid refuses a second definition of a
// tag, so the template's capture tags are renamed to this one (liquidSource.String) and its errors named
// back (liquidErrorText).
const boundedCapture = "herald_capture"

// boundPanic carries a bound error out of a filter: osteele/liquid turns a filter's error into text it
// can keep, but passes on a panic of a type it does not know, which renderBounded recovers.
type boundPanic struct{ err error }

// boundedWriter is what a render writes into: it refuses to grow past what the post may still write.
type boundedWriter struct {
	buf  bytes.Buffer
	left *int // shared by a post's render and its includes
}

var errWriteBound = errors.New("output bound reached")

func (w *boundedWriter) Write(p []byte) (int, error) {
	if len(p) > *w.left {
		*w.left = -1
		return 0, errWriteBound
	}
	*w.left -= len(p)
	return w.buf.Write(p)
}

// boundedChildren renders the content of the block at ctx (capture's, highlight's) into a writer that
// shares the render's budget, so that the content is never longer than what the post may still write.
func boundedChildren(ctx render.Context) (string, error) {
	w := &boundedWriter{left: &stateOf(ctx).left}
	if err := ctx.RenderChildren(w); err != nil {
		return "", err
	}
	return w.buf.String(), nil
}

// maxNesting is how deep the filters that encode a value go into lists and hashes.
const maxNesting = 1000

// cappedBuffer is where a filter builds its string: a write that would take it past max panics with a
// bound error naming the filter, so that a string longer than the cap is never made, however many times
// a list holds the same long string.
type cappedBuffer struct {
	bytes.Buffer
	max  int
	what string // "the filter jsonify"
}

func (e *liquidEngine) capped(filter string) *cappedBuffer {
	return &cappedBuffer{max: e.bounds.Bytes, what: "the filter " + filter}
}

func (b *cappedBuffer) grow(n int) {
	if b.Len()+n > b.max {
		panic(boundPanic{boundError("%s makes a string or list of more than %d bytes or items", b.what, b.max)})
	}
}

// nest refuses a value nested deeper than maxNesting (a stack that deep would end the process).
func (b *cappedBuffer) nest(depth int) {
	if depth > maxNesting {
		panic(boundPanic{boundError("%s reads lists or hashes nested more than %d deep", b.what, maxNesting)})
	}
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.grow(len(p))
	return b.Buffer.Write(p)
}

func (b *cappedBuffer) WriteString(s string) (int, error) {
	b.grow(len(s))
	return b.Buffer.WriteString(s)
}

func (b *cappedBuffer) WriteByte(c byte) error {
	b.grow(1)
	return b.Buffer.WriteByte(c)
}

// marshalJSON writes v as json.Marshal does, a piece at a time into b. A value JSON cannot hold (NaN, a
// function) is given to bad, or, with bad nil, ends it with json.Marshal's error.
func marshalJSON(b *cappedBuffer, v any, bad func(*cappedBuffer, any), depth int) error {
	b.nest(depth)
	leaf := func(x any) error {
		out, err := json.Marshal(x)
		if err != nil {
			if bad == nil {
				return err
			}
			bad(b, x)
			return nil
		}
		b.Write(out)
		return nil
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
		return nil
	case string, json.Marshaler, encoding.TextMarshaler:
		return leaf(x)
	case yaml2.MapItem: // a struct, as json.Marshal writes it
		b.WriteString(`{"Key":`)
		if err := marshalJSON(b, x.Key, bad, depth+1); err != nil {
			return err
		}
		b.WriteString(`,"Value":`)
		if err := marshalJSON(b, x.Value, bad, depth+1); err != nil {
			return err
		}
		b.WriteByte('}')
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return leaf(v)
		}
		if rv.IsNil() {
			b.WriteString("null")
			return nil
		}
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := leaf(k.String()); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := marshalJSON(b, rv.MapIndex(k).Interface(), bad, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case reflect.Slice:
		if rv.IsNil() {
			b.WriteString("null")
			return nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return leaf(v) // base64
		}
		fallthrough
	case reflect.Array:
		b.WriteByte('[')
		for i := range rv.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := marshalJSON(b, rv.Index(i).Interface(), bad, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			b.WriteString("null")
			return nil
		}
		return marshalJSON(b, rv.Elem().Interface(), bad, depth+1)
	}
	return leaf(v)
}

// sprint writes v as fmt.Sprint does, a piece at a time into b; as str, nil is "" at the top.
func sprint(b *cappedBuffer, v any, depth int) {
	b.nest(depth)
	switch x := v.(type) {
	case nil:
		if depth > 0 {
			b.WriteString("<nil>")
		}
		return
	case string:
		b.WriteString(x)
		return
	case error, fmt.Stringer:
		fmt.Fprint(b, x)
		return
	case yaml2.MapItem:
		b.WriteByte('{')
		sprint(b, x.Key, depth+1)
		b.WriteByte(' ')
		sprint(b, x.Value, depth+1)
		b.WriteByte('}')
		return
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		b.WriteByte('[')
		for i := range rv.Len() {
			if i > 0 {
				b.WriteByte(' ')
			}
			sprint(b, rv.Index(i).Interface(), depth+1)
		}
		b.WriteByte(']')
		return
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			keys := rv.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			b.WriteString("map[")
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(k.String())
				b.WriteByte(':')
				sprint(b, rv.MapIndex(k).Interface(), depth+1)
			}
			b.WriteByte(']')
			return
		}
	}
	fmt.Fprint(b, v)
}

// liquidSize is about how many bytes v makes as a string (its strings' lengths, one more for each item of
// a list or hash, a number's digits at most 24), counting no further than past limit nor deeper than
// maxNesting: the bound the list filters check, so that no list holds more than a post may write.
func liquidSize(v any, limit int) int {
	n := 0
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if n > limit || depth > maxNesting { // deeper, the filters that read a value refuse it themselves
			return
		}
		switch v := v.(type) {
		case nil:
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		case []any:
			for _, x := range v {
				n++
				if walk(x, depth+1); n > limit {
					return
				}
			}
		case map[string]any:
			for k, x := range v {
				n += len(k) + 1
				if walk(x, depth+1); n > limit {
					return
				}
			}
		case yaml2.MapSlice:
			for _, it := range v {
				n++
				if walk(it.Key, depth+1); n > limit {
					return
				}
				walk(it.Value, depth+1)
			}
		default:
			n += 24
		}
	}
	walk(v, 0)
	return n
}

// renderBounded renders tpl, a post's or an include's, into a writer bounded by what st may still write.
// A bound reached is kept in st.err; a panic in the engine is an error (a refused write makes it panic).
func renderBounded(tpl *liquid.Template, b map[string]any, st *renderState) (out []byte, err liquid.SourceError) {
	w := &boundedWriter{left: &st.left}
	defer func() {
		if r := recover(); r != nil {
			if bp, ok := r.(boundPanic); ok {
				st.fail(bp.err)
			}
			out, err = nil, liquidError{fmt.Sprintf("the Liquid engine failed: %v", r)}
		}
		if st.left < 0 {
			st.fail(boundError("its Liquid writes more than %d bytes", st.bounds.Bytes))
		}
	}()
	if err := tpl.FRender(w, b); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// registerBoundedFilters registers again the standard filters that grow a string or a list, capped at
// Bytes (a list at as many items), registers those that encode a value with the same cap, and capture,
// whose content counts against what the post may write, so that doubling a string in a loop stops at the
// cap.
func (e *liquidEngine) registerBoundedFilters() {
	tooLong := func(what string) {
		panic(boundPanic{boundError("%s makes a string or list of more than %d bytes or items", what, e.bounds.Bytes)})
	}
	f := e.eng.RegisterFilter
	f("append", func(s, suffix string) string {
		if len(s)+len(suffix) > e.bounds.Bytes {
			tooLong("the filter append")
		}
		return s + suffix
	})
	f("prepend", func(s, prefix string) string {
		if len(s)+len(prefix) > e.bounds.Bytes {
			tooLong("the filter prepend")
		}
		return prefix + s
	})
	f("replace", func(s, old, n string) string {
		if len(s)+strings.Count(s, old)*(len(n)-len(old)) > e.bounds.Bytes {
			tooLong("the filter replace")
		}
		return strings.ReplaceAll(s, old, n)
	})
	// A list is capped by what it holds, not by its length alone: a list of many references to one long
	// string is short to make and huge once a filter that takes a string gets it (upcase, slugify,
	// truncate, ... all join it first).
	f("concat", func(a, b []any) []any {
		if len(a)+len(b) > e.bounds.Bytes || liquidSize(a, e.bounds.Bytes)+liquidSize(b, e.bounds.Bytes) > e.bounds.Bytes {
			tooLong("the filter concat")
		}
		return append(append(make([]any, 0, len(a)+len(b)), a...), b...)
	})
	f("push", func(v, item any) []any {
		a := asSlice(v)
		if len(a)+1 > e.bounds.Bytes || liquidSize(a, e.bounds.Bytes)+liquidSize(item, e.bounds.Bytes) > e.bounds.Bytes {
			tooLong("the filter push")
		}
		return append(append(make([]any, 0, len(a)+1), a...), item)
	})
	f("unshift", func(v, item any) []any {
		a := asSlice(v)
		if len(a)+1 > e.bounds.Bytes || liquidSize(a, e.bounds.Bytes)+liquidSize(item, e.bounds.Bytes) > e.bounds.Bytes {
			tooLong("the filter unshift")
		}
		return append([]any{item}, a...)
	})
	f("join", func(a []any, sep func(string) string) string {
		b := e.capped("join")
		s := sep(" ")
		first := true
		for _, v := range a {
			if v == nil {
				continue
			}
			if !first {
				b.WriteString(s)
			}
			first = false
			sprint(b, v, 1)
		}
		return b.String()
	})
	// Jekyll's jsonify, and osteele/liquid's json and inspect (json.Marshal's JSON; inspect writes what JSON
	// cannot hold as Go does, there rather than for the whole value).
	f("jsonify", func(v any) string {
		b := e.capped("jsonify")
		writeJSON(b, v, 0)
		return b.String()
	})
	f("json", func(v any) any {
		b := e.capped("json")
		if marshalJSON(b, v, nil, 0) != nil {
			return []byte(nil)
		}
		return b.Bytes()
	})
	f("inspect", func(v any) string {
		b := e.capped("inspect")
		_ = marshalJSON(b, v, func(b *cappedBuffer, x any) { fmt.Fprintf(b, "%#v", x) }, 0)
		return b.String()
	})
	// Jekyll's array_to_sentence_string: "a", "a and b", "a, b, and c".
	f("array_to_sentence_string", func(v, connector any) string {
		c := "and"
		if connector != nil {
			c = str(connector)
		}
		items := asSlice(v)
		b := e.capped("array_to_sentence_string")
		for i, it := range items {
			switch {
			case i == 0:
			case len(items) == 2:
				b.WriteString(" " + c + " ")
			case i == len(items)-1:
				b.WriteString(", " + c + " ")
			default:
				b.WriteString(", ")
			}
			sprint(b, it, 0)
		}
		return b.String()
	})
	e.eng.RegisterBlock(boundedCapture, func(ctx render.Context) (string, error) {
		s, err := boundedChildren(ctx)
		if st := stateOf(ctx); st.left < 0 {
			st.fail(boundError("its Liquid writes more than %d bytes, what capture takes in included", e.bounds.Bytes))
		}
		if err != nil {
			return "", err
		}
		ctx.Set(strings.TrimSpace(ctx.TagArgs()), s)
		return "", nil
	})
}
