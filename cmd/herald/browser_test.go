package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/heraldhq/herald/internal/chromiumtest"
	"github.com/heraldhq/herald/internal/mailpittest"
)

// TestBrowserSubscribeToUnsubscribe is the subscriber's whole life, in a real browser (Debian's chromium,
// driven by chromedp) against herald serve, with mailpit as the mail server: a stranger signs up on the
// page, confirms from the email, gets the next post, switches to a weekly digest and leaves with the
// unsubscribe button. Each page is screenshotted (at a phone's size) into the test's temp folder.
func TestBrowserSubscribeToUnsubscribe(t *testing.T) {
	browser := chromiumtest.Path(t)
	mp := mailpittest.Start(t, "--smtp-auth-allow-insecure")
	base := "http://" + freeAddr(t)
	site := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(site, "herald.yaml"), []byte(fmt.Sprintf(
		"from: \"Jane Doe <jane@blog.example.com>\"\npostal_address: \"1 Main Street, Springfield\"\n"+
			"base_url: %s\nsecret: 0123456789abcdef0123456789abcdef\nsmtp: smtp://127.0.0.1:%d?tls=none\n",
		base, mp.SMTPPort)), 0o644)
	// The real clock: the subscriber confirms now, and gets the posts first seen after that.
	env := func(k string) string {
		if k == "HERALD_STORE" {
			return testStore // "" but under HERALD_TEST_STORE=postgres
		}
		return ""
	}
	if _, _, err := runHerald(t, env, "publish", "-C", site); err != nil {
		t.Fatal(err)
	}
	serve := startServe(t, env, site, strings.TrimPrefix(base, "http://"))

	shots := t.TempDir()
	if d := os.Getenv("HERALD_TEST_SCREENSHOTS"); d != "" {
		shots = d // to look at them after the test
	}
	b := newBrowser(t, browser, shots)
	const email = "stranger@example.net"

	// Sign up.
	b.do("subscribe form", chromedp.Navigate(base+"/subscribe"), chromedp.WaitVisible("#email"))
	b.shot("1-subscribe")
	b.do("sign up", chromedp.SendKeys("#email", email), chromedp.SendKeys("#name", "Sam Stranger"),
		chromedp.Click("#subscribe"), chromedp.WaitVisible("#message"))
	b.shot("2-check-your-inbox")
	if got := subscriberStatus(t, site, email); got != "pending" {
		t.Fatalf("after the sign-up: status %q, want pending", got)
	}

	// Confirm from the email: the link's page changes nothing until its button is pressed.
	confirmMail := waitMail(t, mp, email, 1)[0]
	confirmURL := findURL(t, mp.Text(t, confirmMail.ID), base+"/confirm?token=")
	b.do("confirm page", chromedp.Navigate(confirmURL), chromedp.WaitVisible("#confirm"))
	b.shot("3-confirm")
	if got := subscriberStatus(t, site, email); got != "pending" {
		t.Fatalf("after opening the confirmation link: status %q, want still pending", got)
	}
	b.do("confirm", chromedp.Click("#confirm"), chromedp.WaitVisible("#message"))
	b.shot("4-confirmed")
	if got := subscriberStatus(t, site, email); got != "active" {
		t.Fatalf("after pressing confirm: status %q, want active", got)
	}

	// The next post arrives.
	addPost(t, site, "2026-01-01-after-signing-up.md", "After signing up")
	if _, _, err := runHerald(t, env, "publish", "-C", site); err != nil {
		t.Fatal(err)
	}
	msgs := waitMail(t, mp, email, 2)
	post := msgs[0] // newest first
	if post.Subject != "After signing up" {
		t.Fatalf("second message to %s: subject %q, want the new post's title", email, post.Subject)
	}
	headers := mp.Headers(t, post.ID)
	unsubURL := strings.Trim(strings.Split(first(headers["List-Unsubscribe"]), ",")[0], "<> ")
	// No List-Unsubscribe-Post: RFC 8058 one-click needs an https URL, and this base_url is http (the
	// server's tests post one-click unsubscribes themselves).
	if !strings.HasPrefix(unsubURL, base+"/unsubscribe?token=") || headers["List-Unsubscribe-Post"] != nil {
		t.Fatalf("the post's List-Unsubscribe headers: %q, %q", headers["List-Unsubscribe"], headers["List-Unsubscribe-Post"])
	}

	// Switch to a weekly digest from the preferences link in the email.
	prefsURL := findURL(t, mp.Text(t, post.ID), base+"/preferences?token=")
	b.do("preferences", chromedp.Navigate(prefsURL), chromedp.WaitVisible("#frequency"))
	b.shot("5-preferences")
	// The page says whose preferences these are, and offers the site's topics (the seed site's one tagged
	// post's), none checked, without widening the phone's page.
	if got := evaluate[string](b, `document.querySelector("#address").textContent`); got != "For "+email {
		t.Errorf("the preferences page's address: got %q, want %q", got, "For "+email)
	}
	if got := evaluate[string](b, `[...document.querySelectorAll("#topics input")].map(e => e.value + (e.checked ? "*" : "")).join(",")`); got != "chaos engineering,sre" {
		t.Errorf("the preferences page's topics: got %q, want chaos engineering,sre, none checked", got)
	}
	if w := evaluate[float64](b, `document.documentElement.scrollWidth`); w != 390 {
		t.Errorf("the preferences page is %v px wide on a 390 px phone, want 390", w)
	}
	b.do("weekly", chromedp.SetValue("#frequency", "weekly"), chromedp.Click("#save"), chromedp.WaitVisible("#message"))
	b.shot("6-weekly")
	if got := subscriberField(t, site, email, "frequency"); got != "weekly" {
		t.Fatalf("after saving the preferences: frequency %q, want weekly", got)
	}
	// A post now waits for the weekly digest instead of going out alone.
	addPost(t, site, "2026-01-02-digest-material.md", "Digest material")
	if _, _, err := runHerald(t, env, "publish", "-C", site); err != nil {
		t.Fatal(err)
	}
	if n := len(mailTo(t, mp, email)); n != 2 {
		t.Fatalf("a weekly subscriber got a post on its own: %d messages, want 2", n)
	}

	// Leave, from the unsubscribe link in the email.
	b.do("unsubscribe page", chromedp.Navigate(unsubURL), chromedp.WaitVisible("#unsubscribe"))
	b.shot("7-unsubscribe")
	if got := subscriberStatus(t, site, email); got != "active" {
		t.Fatalf("after opening the unsubscribe link: status %q, want still active", got)
	}
	b.do("unsubscribe", chromedp.Click("#unsubscribe"), chromedp.WaitVisible("#message"))
	b.shot("8-unsubscribed")
	if got := subscriberStatus(t, site, email); got != "unsubscribed" {
		t.Fatalf("after pressing unsubscribe: status %q, want unsubscribed", got)
	}

	serve.stop(t)
	t.Logf("screenshots in %s", shots)
}

// freeAddr returns a loopback address with a port free a moment ago: base_url must name the port before
// herald serve starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type serveRun struct {
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer
}

// startServe runs herald serve in-process and waits until /healthz answers.
func startServe(t *testing.T, env func(string) string, site, addr string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &serveRun{cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}}
	go func() { s.done <- run(ctx, []string{"serve", "-C", site, "--listen", addr}, env, s.out, s.out) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("herald serve stopped: %v\n%s", err, s.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald serve did not answer on %s: %v\n%s", addr, err, s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends herald serve as SIGTERM does, and checks that it shut down cleanly.
func (s *serveRun) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("herald serve after shutdown: %v\n%s", err, s.out)
		}
		s.done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatalf("herald serve did not stop\n%s", s.out)
	}
}

// browser is a headless chromium tab for one test.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newBrowser(t *testing.T, path, shots string) *browser {
	t.Helper()
	// The flags keep chromium off the network it would otherwise call home to (closed here and in CI).
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first action starts the browser and ties it to the context it runs with: the tab's own, not the
	// per-step timeouts of do.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, shots: shots}
	b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844))
	return b
}

// do runs steps, failing the test if they take more than 30 seconds or fail.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// shot saves a screenshot of the page as NAME.png and checks that it is not blank: a page that failed to
// render is one colour.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	data, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	colours := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 4 {
		for x := r.Min.X; x < r.Max.X; x += 4 {
			c0, c1, c2, c3 := img.At(x, y).RGBA()
			colours[[4]uint32{c0, c1, c2, c3}] = true
		}
	}
	if len(colours) < 3 || r.Dx() < 300 {
		b.t.Errorf("screenshot %s (%s) looks blank: %dx%d, %d colours", name, path, r.Dx(), r.Dy(), len(colours))
	}
}

// mailTo returns mailpit's messages to addr, newest first.
func mailTo(t *testing.T, mp *mailpittest.Server, addr string) []mailpittest.Summary {
	t.Helper()
	var got []mailpittest.Summary
	for _, m := range mp.Messages(t) {
		for _, to := range m.To {
			if strings.EqualFold(to.Address, addr) {
				got = append(got, m)
			}
		}
	}
	return got
}

// waitMail waits until mailpit holds n messages to addr and returns them, newest first.
func waitMail(t *testing.T, mp *mailpittest.Server, addr string, n int) []mailpittest.Summary {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := mailTo(t, mp, addr)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit has %d messages to %s after 15 s, want %d", len(got), addr, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findURL returns the first URL in text that starts with prefix.
func findURL(t *testing.T, text, prefix string) string {
	t.Helper()
	u := regexp.MustCompile(regexp.QuoteMeta(prefix) + `[A-Za-z0-9_=-]+`).FindString(text)
	if u == "" {
		t.Fatalf("no link starting %s in:\n%s", prefix, text)
	}
	return u
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// subscriberField reads one field of a subscriber from herald subscribers list --json.
func subscriberField(t *testing.T, site, email, field string) string {
	t.Helper()
	for _, s := range listJSON(t, site) {
		if s["email"] == email {
			v, _ := s[field].(string)
			return v
		}
	}
	return ""
}

// evaluate runs the JavaScript expression expr on the page and returns its value.
func evaluate[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}
