package mailer

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/mailpittest"
)

// TestHTMLCheckScore sends a post, a digest and a confirmation to mailpit and reads its HTML
// compatibility check (caniemail.com's data on which mail clients support each HTML and CSS feature the
// message uses). Its score is 100% less the worst feature's share of clients that support it only in part,
// and the worst one's share that do not support it, each weighted by the share of the message's elements
// that use it. It must not fall below what the emails scored before the redesign of issue 19: the issue
// measured post 84.8%, digest 80.6% and confirmation 91.0%, and these emails scored 84.1%, 84.1% and
// 91.0% with mailpit v1.27.11 before it; the floor is the higher of each.
func TestHTMLCheckScore(t *testing.T) {
	mp := mailpittest.Start(t, "--smtp-auth-allow-insecure")
	c := newTestComposer(t, testOptions())
	post, err := c.Post(testRecipient(), testPosts()[0], "post/score", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := c.Digest(testRecipient(), testPosts(), "digest/score", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := c.Confirm(testConfirmation(), "confirm/score", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	s := dial(t, SMTPConfig{Host: "127.0.0.1", Port: mp.SMTPPort, TLS: TLSNone, Timeout: 5 * time.Second})
	tests := []struct {
		name  string
		m     *Message
		floor float64
	}{
		{"post", post, 84.8},
		{"digest", digest, 84.1},
		{"confirmation", confirm, 91.0},
	}
	for _, tt := range tests {
		checkOutcome(t, s.Send(t.Context(), tt.m), Sent, "")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	got := mailpitReceived(t, mp)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, ok := got[trimAngles(tt.m.MessageID)]
			if !ok {
				t.Fatalf("mailpit has no message %s", tt.m.MessageID)
			}
			var check struct {
				Total struct {
					Nodes     int
					Tests     int
					Supported float64 // a percentage
					Partial   float64
				}
				Warnings []struct {
					Slug, Title string
					Score       struct {
						Found                           int
						Supported, Partial, Unsupported float64
					}
				}
			}
			mp.Get(t, "/api/v1/message/"+sum.ID+"/html-check", &check)
			if check.Total.Tests == 0 {
				t.Fatal("html-check ran no tests")
			}
			t.Logf("%s: %.1f%% supported, %.1f%% partly (%d tests, %d nodes)", tt.name, check.Total.Supported, check.Total.Partial, check.Total.Tests, check.Total.Nodes)
			for _, w := range check.Warnings {
				t.Logf("  %-24s on %3d nodes: supported %5.1f%% partly %5.1f%% not %5.1f%%", w.Slug, w.Score.Found, w.Score.Supported, w.Score.Partial, w.Score.Unsupported)
			}
			// mailpit rounds to a tenth in its own page; compare at that precision.
			if got := float64(int(check.Total.Supported*10+0.5)) / 10; got < tt.floor {
				t.Errorf("html-check score %.1f%%, want at least %.1f%%", got, tt.floor)
			}
		})
	}
}

func trimAngles(id string) string {
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		return id[1 : len(id)-1]
	}
	return id
}
