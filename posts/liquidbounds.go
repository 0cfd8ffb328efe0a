package posts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/render"
)

// Liquid is a language: a post's template can loop, build strings and include files without end. These
// bounds hold it, each a setting (LiquidBounds) with a safe default, and a post that reaches one stops the
// build with an error naming the post and the bound. osteele/liquid has no bounds of its own, so Herald
// adds them through its exported types: the writer it renders into counts the bytes, the filters that
// grow a string or a list are registered again with a cap, capture is registered again with the same cap,
// includes are counted, and a render that runs past its time is abandoned (the process ends soon after:
// the build fails).
type LiquidBounds struct {
	Time     time.Duration // per post, every try and include together (default 10 s)
	Bytes    int           // the most one post's Liquid writes, and the longest string or list it builds (default 8 MiB)
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

// errTimedOut: a render ran past the post's time.
var errTimedOut = errors.New("timed out")

// renderTimed is renderBounded within the time left to the post, and until ctx is done: past either, it
// returns at once (errTimedOut, or ctx's error) and leaves the render to run on, unobserved (st is then
// the render's alone), until the process ends.
func renderTimed(ctx context.Context, tpl *liquid.Template, b map[string]any, st *renderState, deadline time.Time) ([]byte, liquid.SourceError, error) {
	type result struct {
		out []byte
		err liquid.SourceError
	}
	done := make(chan result, 1)
	go func() {
		out, err := renderBounded(tpl, b, st)
		done <- result{out, err}
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-done:
		return r.out, r.err, nil
	case <-timer.C:
		return nil, nil, errTimedOut
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// registerBoundedFilters registers again the standard filters that grow a string or a list, capped at
// Bytes (a list at as many items), and capture with the same cap, so that doubling a string in a loop
// stops at the cap.
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
	f("concat", func(a, b []any) []any {
		if len(a)+len(b) > e.bounds.Bytes {
			tooLong("the filter concat")
		}
		return append(append(make([]any, 0, len(a)+len(b)), a...), b...)
	})
	f("join", func(a []any, sep func(string) string) string {
		var b strings.Builder
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
			b.WriteString(fmt.Sprint(v))
			if b.Len() > e.bounds.Bytes {
				tooLong("the filter join")
			}
		}
		return b.String()
	})
	e.eng.RegisterBlock(boundedCapture, func(ctx render.Context) (string, error) {
		s, err := ctx.InnerString()
		if err != nil {
			return "", err
		}
		if len(s) > e.bounds.Bytes {
			tooLong("capture")
		}
		ctx.Set(strings.TrimSpace(ctx.TagArgs()), s)
		return "", nil
	})
}
