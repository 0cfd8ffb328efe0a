package mailer

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/chromiumtest"
	"github.com/heraldhq/herald/posts"
)

// These tests open the HTML part of Herald's emails in a real browser (Debian's chromium, driven by
// chromedp) at a phone's width, as a mail app's web view shows it. Screenshots go into the test's temp
// folder, or into $HERALD_TEST_SCREENSHOTS to look at them after the test.

// widePost is a post whose content would widen a careless email: a table of many columns, a long line of
// code, a long URL as a link's text and an image four times as wide as a phone (imageURL is its address).
func widePost(imageURL string) *posts.Post {
	p := *testPosts()[0]
	var table strings.Builder
	table.WriteString("<table><thead><tr>")
	for i := range 9 {
		table.WriteString("<th>Column&nbsp;header&nbsp;" + itoa(i+1) + "</th>")
	}
	table.WriteString("</tr></thead><tbody><tr>")
	for range 9 {
		table.WriteString("<td>a_value_without_spaces</td>")
	}
	table.WriteString("</tr></tbody></table>")
	p.ContentHTML = `<p>Back in April, I attended a conference.</p>
` + table.String() + `
<pre><code>func main() { fmt.Println("` + strings.Repeat("a long line of code that does not wrap ", 6) + `") }
</code></pre>
<p>The slides are at <a href="https://failover.example.com/2020/slides/` + strings.Repeat("very-long-path-segment-", 8) + `final.pdf">https://failover.example.com/2020/slides/` + strings.Repeat("very-long-path-segment-", 8) + `final.pdf</a>.</p>
<p>Averyveryverylongwordwithoutanyplacetobreakitatallsupercalifragilisticexpialidocious.</p>
<p><img src="` + imageURL + `" alt="A wide photo"></p>
<p>The end.</p>`
	return &p
}

// bigPNG is a 1600×900 image.
func bigPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1600, 900))
	for y := range 900 {
		for x := range 1600 {
			img.Set(x, y, color.RGBA{uint8(x / 7), uint8(y / 4), 160, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// htmlServer serves pages by path, and /big.png.
type htmlServer struct {
	*httptest.Server
	mu    sync.Mutex
	pages map[string]string
}

func newHTMLServer(t *testing.T) *htmlServer {
	t.Helper()
	s := &htmlServer{pages: map[string]string{}}
	img := bigPNG(t)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
			return
		}
		s.mu.Lock()
		page, ok := s.pages[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *htmlServer) add(path, page string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[path] = page
	return s.URL + path
}

// phone is a headless chromium tab as wide as a phone.
type phone struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newPhone(t *testing.T, width int64) *phone {
	t.Helper()
	// The flags keep chromium off the network it would otherwise call home to.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumtest.Path(t)), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	shots := os.Getenv("HERALD_TEST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &phone{t: t, ctx: ctx, shots: shots}
	p.do("phone-sized viewport", chromedp.EmulateViewport(width, 800, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	return p
}

func (p *phone) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression on the page.
func eval[T any](p *phone, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// open loads url and waits for its images.
func (p *phone) open(url string) {
	p.t.Helper()
	p.do("open "+url, chromedp.Navigate(url))
	deadline := time.Now().Add(10 * time.Second)
	for !eval[bool](p, `Array.from(document.images).every(i => i.complete)`) {
		if time.Now().After(deadline) {
			p.t.Fatal("the page's images did not load")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scheme sets the colour scheme that the page's media queries see.
func (p *phone) scheme(s string) {
	p.t.Helper()
	p.do("prefers-color-scheme: "+s, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}}})
		return err
	}))
}

// shot saves a screenshot of the whole page as NAME.png.
func (p *phone) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	data, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(p.shots, name+".png")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s", path)
}

// TestPhoneWidth: at 375 and 390 px, the width of the phones most read on, neither a post whose content
// is wider than any phone nor a digest makes the email wider than the screen: the page does not scroll
// sideways, so no paragraph is cut off on the right.
func TestPhoneWidth(t *testing.T) {
	srv := newHTMLServer(t)
	c := newTestComposer(t, testOptions())
	wide := widePost(srv.URL + "/big.png")
	post, err := c.Post(testRecipient(), wide, "post/wide", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	ps := testPosts()
	ps[0] = wide
	ps[0].Image = srv.URL + "/big.png" // a digest shows each post's image
	digest, err := c.Digest(testRecipient(), ps, "digest/wide", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	for _, width := range []int64{375, 390} {
		ph := newPhone(t, width)
		for _, m := range []struct {
			name string
			m    *Message
		}{{"post", post}, {"digest", digest}} {
			ph.open(srv.add("/"+m.name+".html", m.m.HTML))
			if width == 375 {
				ph.shot(m.name + "-375")
			}
			if got := eval[int64](ph, `document.documentElement.scrollWidth`); got != width {
				t.Errorf("%s at %d px: the document is %d px wide", m.name, width, got)
			}
			// The image fits, and keeps its proportions.
			img := map[string]string{"post": `img[alt="A wide photo"]`, "digest": "img.hero"}[m.name]
			w := eval[float64](ph, `document.querySelector('`+img+`').getBoundingClientRect().width`)
			h := eval[float64](ph, `document.querySelector('`+img+`').getBoundingClientRect().height`)
			if w > float64(width) || w < 200 || h < w*900/1600-2 || h > w*900/1600+2 {
				t.Errorf("%s at %d px: the image is %.0f×%.0f px, want at most %d px wide in proportion 16:9", m.name, width, w, h, width)
			}
			if m.name == "post" {
				// The table and the code keep their shape and scroll: their words are not broken up.
				for _, sel := range []string{".scroll", "pre"} {
					if !eval[bool](ph, `(e => e.scrollWidth > e.clientWidth + 100)(document.querySelector('`+sel+`'))`) {
						t.Errorf("post at %d px: %s does not scroll sideways", width, sel)
					}
				}
				if th := eval[float64](ph, `document.querySelector('th').getBoundingClientRect().height`); th > 60 {
					t.Errorf("post at %d px: a table header is %.0f px high: its words are broken up", width, th)
				}
			}
		}
	}
}

// TestDarkMode: a reader whose system is in dark mode gets the email in the dark colours of herald
// serve's pages, the post's own HTML included; in light mode, the light ones.
func TestDarkMode(t *testing.T) {
	srv := newHTMLServer(t)
	c := newTestComposer(t, testOptions())
	post, err := c.Post(testRecipient(), testPosts()[0], "post/dark", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := c.Digest(testRecipient(), testPosts(), "digest/dark", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := c.Confirm(testConfirmation(), "confirm/dark", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	ph := newPhone(t, 375)
	style := func(selector, property string) string {
		return eval[string](ph, `getComputedStyle(document.querySelector(`+strconvQuote(selector)+`)).`+property)
	}
	for _, m := range []struct {
		name string
		m    *Message
		link string // a link in the text
	}{{"post", post, ".content a"}, {"digest", digest, ".more a"}, {"confirm", confirm, ".main p a"}} {
		url := srv.add("/"+m.name+".html", m.m.HTML)
		for _, tt := range []struct {
			scheme                string
			page, column, text, a string
		}{
			{"light", "rgb(244, 244, 245)", "rgb(255, 255, 255)", "rgb(31, 35, 40)", "rgb(31, 111, 235)"},
			{"dark", "rgb(1, 4, 9)", "rgb(13, 17, 23)", "rgb(230, 237, 243)", "rgb(68, 147, 248)"},
		} {
			ph.scheme(tt.scheme)
			ph.open(url)
			if tt.scheme == "dark" {
				ph.shot(m.name + "-375-dark")
			}
			for _, s := range []struct{ selector, property, want string }{
				{"body", "backgroundColor", tt.page},
				{".container", "backgroundColor", tt.column},
				{".container", "color", tt.text},
				{m.link, "color", tt.a},
			} {
				if got := style(s.selector, s.property); got != s.want {
					t.Errorf("%s in %s mode: %s's %s is %s, want %s", m.name, tt.scheme, s.selector, s.property, got, s.want)
				}
			}
		}
	}
}

func strconvQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
