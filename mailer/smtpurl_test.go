package mailer

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		in      string
		want    SMTPConfig
		wantErr string
	}{
		{in: "smtp://user@mail.example.com:587", want: SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS, Username: "user"}},
		{in: "smtp://mail.example.com", want: SMTPConfig{Host: "mail.example.com", TLS: TLSStartTLS}},
		{in: "smtps://user%40example.com@smtp.example.com:465", want: SMTPConfig{Host: "smtp.example.com", Port: 465, TLS: TLSImplicit, Username: "user@example.com"}},
		{in: "smtp://localhost:1025?tls=none", want: SMTPConfig{Host: "localhost", Port: 1025, TLS: TLSNone}},
		{in: "SMTP://[::1]:25?tls=NONE&auth=plain&helo=blog.example.com&timeout=10s", wantErr: "needs a username"},
		{in: "smtp://u@[::1]:25?tls=none&auth=PLAIN&helo=blog.example.com&timeout=10s", want: SMTPConfig{Host: "::1", Port: 25, TLS: TLSNone, Username: "u", Auth: "plain", HELO: "blog.example.com", Timeout: 10 * time.Second}},
		{in: "smtp://apikey@smtp.example.com?auth=xoauth2", want: SMTPConfig{Host: "smtp.example.com", TLS: TLSStartTLS, Username: "apikey", Auth: "xoauth2"}},
		{in: "smtp://user:s3cr3t-pw@mail.example.com:587", wantErr: "holds a password"},
		{in: "smtp://user:s3cr3t-pw@mail.example.com:99999", wantErr: "holds a password"},
		{in: "smtp://user:s3cr3t-pw%zz@mail.example.com", wantErr: "not a valid URL"},
		{in: "smtp://us er:s3cr3t-pw@mail.example.com", wantErr: "not a valid URL"},
		{in: "http://mail.example.com", wantErr: "scheme"},
		{in: "mail.example.com:587", wantErr: "scheme"},
		{in: "smtp:mail.example.com", wantErr: "no host"},
		{in: "smtp://mail.example.com:0", wantErr: "port"},
		{in: "smtp://mail.example.com:x", wantErr: "not a valid URL"},
		{in: "smtp://mail.example.com?tls=maybe", wantErr: `tls="maybe"`},
		{in: "smtp://u@mail.example.com?tls=maybe", wantErr: "tls=(not shown)"},
		{in: "smtps://mail.example.com?tls=none", wantErr: "contradicts"},
		{in: "smtp://mail.example.com?tls=starttls&x=1", wantErr: "unknown parameter"},
		{in: "smtp://u@mail.example.com?auth=magic", wantErr: "auth"},
		{in: "smtp://mail.example.com?timeout=soon", wantErr: "timeout"},
		{in: "smtp://mail.example.com/path", wantErr: "path"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one that says %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || got.Timeout != tt.want.Timeout || got.HELO != tt.want.HELO || got.Port != tt.want.Port {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestSMTPConfigString(t *testing.T) {
	c := SMTPConfig{Host: "mail.example.com", Username: "ann", Password: "s3cr3t-pw", Auth: "plain"}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(&c)} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("the password shows: %s", s)
		}
	}
	if got, want := c.String(), "smtp://ann@mail.example.com:587?auth=plain"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	for _, tt := range []struct {
		c    SMTPConfig
		want string
	}{
		{SMTPConfig{Host: "h", TLS: TLSImplicit}, "smtps://h:465"},
		{SMTPConfig{Host: "h", TLS: TLSNone}, "smtp://h:25?tls=none"},
		{SMTPConfig{Host: "::1", Port: 2525}, "smtp://[::1]:2525"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
		back, err := ParseSMTPURL(tt.c.String())
		if err != nil || back.String() != tt.want {
			t.Errorf("%s does not parse back: %v %v", tt.want, back, err)
		}
	}
}

// FuzzParseSMTPURL checks that no error shows any part of a password, however it is written into the
// URL (escaped or not, with characters that end the user info early).
func FuzzParseSMTPURL(f *testing.F) {
	f.Add("ann", "pw", "mail.example.com:587?tls=none")
	f.Add("ann", "12/34", "mail.example.com")
	f.Add("a", "b?auth=x", "h")
	f.Add("", "p#q", "[::1]:25")
	f.Add("u", "p%zz", "h?timeout=x")
	f.Fuzz(func(t *testing.T, user, pass, rest string) {
		// Sentinels before, inside and after the password: any piece of it that leaks takes one along.
		pass = "Qz1" + pass + "Zq9xW" + pass + "Wk8"
		for _, s := range []string{
			"smtp://" + user + ":" + pass + "@" + rest,
			"smtps://" + url.UserPassword(user, pass).String() + "@" + rest,
		} {
			c, err := ParseSMTPURL(s)
			if err == nil {
				t.Fatalf("%q parsed to %v: a URL with a password must be refused", s, c)
			}
			for _, sentinel := range []string{"Qz1", "Zq9xW", "Wk8"} {
				if strings.Contains(err.Error(), sentinel) {
					t.Fatalf("the error for %q shows part of the password: %v", s, err)
				}
			}
		}
	})
}

func FuzzSMTPURLRoundTrip(f *testing.F) {
	f.Add("smtp://ann@mail.example.com:587")
	f.Add("smtps://h?auth=plain")
	f.Add("smtp://[::1]:25?tls=none&helo=x")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSMTPURL(s)
		if err != nil {
			return
		}
		back, err := ParseSMTPURL(c.String())
		if err != nil {
			t.Fatalf("%q parses to %v, whose String %q does not parse: %v", s, c, c.String(), err)
		}
		if back.String() != c.String() || back.Host != c.Host || back.Username != c.Username || back.port() != c.port() || back.tls() != c.tls() {
			t.Fatalf("%q: %v, then %v", s, c, back)
		}
	})
}
