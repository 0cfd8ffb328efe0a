package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/publish"
)

// The transport setting names where mail goes: smtp:// or smtps:// (the old setting smtp is the same), or
// one of the providers' APIs, each with its key in the environment or a file, never in herald.yaml or a flag:
//
//	ses://REGION                  Amazon SES, credentials from the standard AWS chain
//	postmark://                   Postmark, HERALD_POSTMARK_TOKEN or HERALD_POSTMARK_TOKEN_FILE
//	mailgun://DOMAIN[?region=eu]  Mailgun, HERALD_MAILGUN_KEY or HERALD_MAILGUN_KEY_FILE
//	resend://                     Resend, HERALD_RESEND_KEY or HERALD_RESEND_KEY_FILE
//
// Each takes endpoint= (an emulator or a test server: https, or http to this machine) and timeout=; SES
// takes configuration_set=, Postmark stream= (default broadcast).

// transport is the transport setting: transport, else its old name smtp.
func (c config) transport() string { return firstSet(c.Transport, c.SMTP) }

// apiSchemes are the transports that are providers' APIs.
var apiSchemes = map[string]bool{"ses": true, "postmark": true, "mailgun": true, "resend": true}

// isAPITransport says whether s names a provider's API rather than an SMTP server.
func isAPITransport(s string) bool {
	scheme, _, ok := strings.Cut(strings.TrimSpace(s), "://")
	return ok && apiSchemes[strings.ToLower(scheme)]
}

// idempotentTransport says whether sending a message again through s cannot make a second copy (Resend
// takes an idempotency key): then a message whose fate a stopped run left unknown is sent again at once
// with the same key, as if --retry-unknown were given, and Resend answers with the first send's id.
// idempotencyWindow is how long after its first attempt an unknown message is retried by itself through an
// idempotent transport: Resend keeps a key 24 hours, and the hour's margin covers a run's length.
const idempotencyWindow = 23 * time.Hour

func idempotentTransport(s string) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(s), "://")
	return strings.EqualFold(scheme, "resend")
}

// transportForm is what the errors about the setting show.
const transportForm = "want smtp://user@host:587, smtps://user@host:465, ses://REGION, postmark://, mailgun://DOMAIN or resend://"

// apiTransport sets ms's Dial and Where for the API transport s names, with the key from getenv. An error
// never quotes the setting (a key pasted into it would show) nor the key.
func apiTransport(ms *publish.Mail, s string, getenv func(string) string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("transport: not a valid URL (%s)", transportForm)
	}
	scheme := strings.ToLower(u.Scheme)
	if u.User != nil {
		return fmt.Errorf("transport: %s:// takes no user or password in the URL: the key goes in the environment or a file (see README's Mail settings)", scheme)
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("transport: %s://: unexpected path (%s)", scheme, transportForm)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("transport: %s://: a query parameter is not escaped right", scheme)
	}
	known := map[string][]string{"ses": {"configuration_set"}, "postmark": {"stream"}, "mailgun": {"region"}}[scheme]
	known = append(known, "endpoint", "timeout")
	for k := range q {
		if !contains(known, k) {
			return fmt.Errorf("transport: %s://: unknown parameter %q (known: %s)", scheme, k, strings.Join(known, ", "))
		}
	}
	var timeout time.Duration
	if v := q.Get("timeout"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 {
			return fmt.Errorf("transport: timeout=%q: want a duration such as 30s", v)
		}
	}
	endpoint := q.Get("endpoint")
	switch scheme {
	case "ses":
		return sesTransport(ms, u.Host, q.Get("configuration_set"), endpoint, timeout, getenv)
	case "postmark":
		if u.Host != "" {
			return errors.New("transport: postmark:// takes no host: the server token (HERALD_POSTMARK_TOKEN) picks the Postmark server")
		}
		token, err := apiKey(getenv, "HERALD_POSTMARK_TOKEN", "Postmark server's API token")
		if err != nil {
			return err
		}
		s, err := mailer.NewPostmark(mailer.PostmarkConfig{Token: token, Stream: q.Get("stream"), Endpoint: endpoint, Timeout: timeout})
		if err != nil {
			return err
		}
		ms.Where = "Postmark, stream " + firstSet(q.Get("stream"), "broadcast")
		ms.Dial = func(context.Context) (mailer.Sender, error) { return s, nil }
	case "mailgun":
		if u.Host == "" {
			return errors.New("transport: mailgun://DOMAIN: name the sending domain set up in Mailgun, such as mailgun://mg.blog.example.com")
		}
		region := strings.ToLower(q.Get("region"))
		if region != "" && region != "eu" && region != "us" {
			return fmt.Errorf("transport: mailgun://: region=%q: want eu (or us, the default)", region)
		}
		key, err := apiKey(getenv, "HERALD_MAILGUN_KEY", "Mailgun API key")
		if err != nil {
			return err
		}
		s, err := mailer.NewMailgun(mailer.MailgunConfig{Domain: u.Host, Key: key, EU: region == "eu", Endpoint: endpoint, Timeout: timeout})
		if err != nil {
			return err
		}
		ms.Where = "Mailgun, " + u.Host
		ms.Dial = func(context.Context) (mailer.Sender, error) { return s, nil }
	case "resend":
		if u.Host != "" {
			return errors.New("transport: resend:// takes no host: the API key (HERALD_RESEND_KEY) picks the account")
		}
		key, err := apiKey(getenv, "HERALD_RESEND_KEY", "Resend API key")
		if err != nil {
			return err
		}
		s, err := mailer.NewResend(mailer.ResendConfig{Key: key, Endpoint: endpoint, Timeout: timeout})
		if err != nil {
			return err
		}
		ms.Where = "Resend"
		ms.Dial = func(context.Context) (mailer.Sender, error) { return s, nil }
	}
	return nil
}

// sesTransport sets ms up for Amazon SES in region. The AWS settings load at the first dial: the standard
// chain (shared config and credentials files, SSO, a container or instance role), with AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_PROFILE taken from getenv first.
func sesTransport(ms *publish.Mail, region, configSet, endpoint string, timeout time.Duration, getenv func(string) string) error {
	if region == "" || strings.ContainsAny(region, ":/ ") {
		return errors.New("transport: ses://REGION: name the SES region, such as ses://us-east-1")
	}
	var once sync.Once
	var client *mailer.SESClient
	var loadErr error
	load := func(ctx context.Context) {
		opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
		if id := getenv("AWS_ACCESS_KEY_ID"); id != "" {
			opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
				id, getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))))
		}
		if p := getenv("AWS_PROFILE"); p != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(p))
		}
		var cfg aws.Config
		cfg, loadErr = awsconfig.LoadDefaultConfig(ctx, opts...)
		if loadErr != nil {
			loadErr = fmt.Errorf("transport: ses: the AWS settings: %w", loadErr)
			return
		}
		// Without credentials every request would fail alike: say so now, before any message is marked
		// sending, rather than defer each one.
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			loadErr = fmt.Errorf("transport: ses: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role): %w", err)
			return
		}
		client, loadErr = mailer.NewSES(mailer.SESConfig{AWS: cfg, Endpoint: endpoint, ConfigurationSet: configSet, Timeout: timeout})
	}
	if endpoint != "" { // check it now, not at the first dial
		if _, err := mailer.NewSES(mailer.SESConfig{AWS: aws.Config{Region: region}, Endpoint: endpoint}); err != nil {
			return err
		}
	}
	ms.Where = "Amazon SES, " + region
	ms.Dial = func(ctx context.Context) (mailer.Sender, error) {
		once.Do(func() { load(ctx) })
		if loadErr != nil {
			return nil, loadErr
		}
		return client.Sender(), nil
	}
	return nil
}

// apiKey reads a provider's key from the variable name, or the file name_FILE names: never from a flag or
// herald.yaml, where it would end up in shell histories and repositories.
func apiKey(getenv func(string) string, name, what string) (string, error) {
	if k := strings.TrimSpace(getenv(name)); k != "" {
		return k, nil
	}
	if f := getenv(name + "_FILE"); f != "" {
		b, err := readSecretFile(name+"_FILE", "the "+what, f)
		if err != nil {
			return "", err
		}
		if k := strings.TrimSpace(string(b)); k != "" {
			return k, nil
		}
		return "", fmt.Errorf("%s_FILE names an empty file: it must hold the %s", name, what)
	}
	return "", fmt.Errorf("transport needs the %s: set %s, or %s_FILE to a file that holds it", what, name, name)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
