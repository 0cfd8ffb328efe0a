package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
)

// WebSub (W3C Recommendation, https://www.w3.org/TR/websub/#publishing): "the publisher MUST inform the hubs
// it previously designated when a topic has been updated", by a mechanism the Recommendation leaves to the
// hub; its note names the one public hubs take, a POST with hub.mode=publish and hub.url=TOPIC, form-encoded
// (as PubSubHubbub 0.3 specified it). Some hubs take hub.url repeated and some read only the first, so
// Herald sends one topic per request. Any 2xx is success (hubs answer 204 No Content, or 202 Accepted).

// Ping says how to tell hubs.
type Ping struct {
	Hubs      []string
	Client    *http.Client  // nil: a client of its own that does not follow redirects
	Timeout   time.Duration // per request; 0: 10 s
	RetryWait time.Duration // before the one retry; 0: 2 s
	UserAgent string
}

// PingHubs tells each hub that each topic changed. A request that fails for a reason that may pass (no
// answer within the timeout, a network error, a 5xx, 408 or 429) is tried once more; a hub's other
// answers are final. It returns how many topics each hub took (told[i] for Hubs[i]) and the failures, one
// per hub and topic, in the order of hubs and topics. A hub that cannot be told is never an error: the
// feeds are written, and readers who poll them see the change.
func PingHubs(ctx context.Context, p Ping, topics []string) (told []int, warns []error) {
	client := p.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	wait := p.RetryWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	errs := make([]error, len(p.Hubs)*len(topics))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // a few at once: a hub that hangs must not hold up the others for long
	for i, hub := range p.Hubs {
		for j, topic := range topics {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				again, err := pingOnce(ctx, client, timeout, p.UserAgent, hub, topic)
				if err != nil && again && ctx.Err() == nil {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
						_, err = pingOnce(ctx, client, timeout, p.UserAgent, hub, topic)
					}
				}
				if err != nil {
					errs[i*len(topics)+j] = fmt.Errorf("WebSub hub %s was not told of %s: %w", redact(hub), topic, err)
				}
			}()
		}
	}
	wg.Wait()
	told = make([]int, len(p.Hubs))
	for k, err := range errs {
		if err != nil {
			warns = append(warns, err)
		} else {
			told[k/len(topics)]++
		}
	}
	return told, warns
}

// pingOnce sends one publish request. again says whether a failure may pass if tried again.
func pingOnce(ctx context.Context, client *http.Client, timeout time.Duration, ua, hub, topic string) (again bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	form := url.Values{"hub.mode": {"publish"}, "hub.url": {topic}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return true, fmt.Errorf("no answer within %s", timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the hub's URL is in the warning already
		}
		return true, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c >= 300 && c < 400:
		return false, fmt.Errorf("it answered %s, to %q; set hubs to the address the hub has moved to", resp.Status, redact(resp.Header.Get("Location")))
	default:
		err := fmt.Errorf("it answered %s", resp.Status)
		if msg := firstLine(body); msg != "" {
			err = fmt.Errorf("it answered %s: %s", resp.Status, msg)
		}
		return c >= 500 || c == http.StatusRequestTimeout || c == http.StatusTooManyRequests, err
	}
}

// redact hides a password in a hub's URL, which warnings print.
func redact(hub string) string {
	if u, err := url.Parse(hub); err == nil {
		return u.Redacted()
	}
	return hub
}

// firstLine is the start of a hub's answer, fit for one line of a warning: its first line, printable
// characters only, at most 200 of them.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(bytes.ToValidUTF8(b, nil))), "\n")
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return strings.TrimSpace(s)
}

// ChangedFeeds returns the public URLs of the feeds among outs (what Build made for site and f) whose bytes
// differ from the file now at their path, or that are not there yet: the topics to tell the hubs of, once
// they are written. Call it before writing. Herald's stylesheet is not a feed, and is left out.
func ChangedFeeds(site *posts.Site, f Feeds, outs []Output) []string {
	var out []string
	for _, o := range outs {
		if f.Stylesheet == "default" && o.Path == filepath.Join(f.Dir, "feed.xsl") {
			continue
		}
		if sameFile(o) {
			continue
		}
		rel, err := filepath.Rel(f.Dir, o.Path)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue // not a file of the output folder, so it has no public URL
		}
		out = append(out, fileURL(site, rel))
	}
	return out
}

// sameFile tells whether the regular file at o.Path holds o's bytes already.
func sameFile(o Output) bool {
	if o.Temp != "" {
		same, err := feed.Unchanged(feed.File{Path: o.Path, Temp: o.Temp})
		return err == nil && same
	}
	info, err := os.Lstat(o.Path)
	if err != nil || !info.Mode().IsRegular() || info.Size() != int64(len(o.Data)) {
		return false
	}
	old, err := os.ReadFile(o.Path)
	return err == nil && bytes.Equal(old, o.Data)
}
