package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/events"
)

// The providers' webhooks of herald serve take their keys from the environment, or from a file the
// variable _FILE names, never from a flag or herald.yaml (which Jekyll publishes), as the transports'
// keys. A provider with none set has no webhook.
const (
	envSESTopics   = "HERALD_SES_WEBHOOK_TOPIC"    // the SNS topics' ARNs, comma-separated: not a secret
	envPostmarkKey = "HERALD_POSTMARK_WEBHOOK_KEY" // USER:PASSWORD, as written into the webhook's URL
	envMailgunKey  = "HERALD_MAILGUN_WEBHOOK_KEY"  // the HTTP webhook signing key
	envResendKey   = "HERALD_RESEND_WEBHOOK_KEY"   // the signing secret, whsec_...
)

// webhooks makes the providers' webhooks for herald serve at base_url's path + /webhooks/PROVIDER, and
// names those it serves; nil when none is configured.
func webhooks(getenv func(string) string, baseURL string, st events.Recorder, log *slog.Logger) (http.Handler, []string, error) {
	o := events.Options{Store: st, Logger: log}
	var on []string
	if v := strings.TrimSpace(getenv(envSESTopics)); v != "" {
		var topics []string
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				if !strings.HasPrefix(t, "arn:aws") || strings.Count(t, ":") != 5 {
					return nil, nil, fmt.Errorf("%s: %q is not an SNS topic's ARN such as arn:aws:sns:us-east-1:123456789012:herald", envSESTopics, t)
				}
				topics = append(topics, t)
			}
		}
		o.SES = &events.SNSOptions{TopicARNs: topics}
		on = append(on, "ses")
	}
	key, err := webhookKey(getenv, envPostmarkKey, "Postmark webhook's USER:PASSWORD")
	if err != nil {
		return nil, nil, err
	}
	if key != "" {
		user, pass, ok := strings.Cut(key, ":")
		if !ok || user == "" || len(pass) < 16 {
			return nil, nil, fmt.Errorf("%s must be USER:PASSWORD, the password at least 16 characters, as written into the webhook's URL in Postmark", envPostmarkKey)
		}
		o.PostmarkUser, o.PostmarkPassword = user, pass
		on = append(on, "postmark")
	}
	if o.MailgunKey, err = webhookKey(getenv, envMailgunKey, "Mailgun webhook signing key"); err != nil {
		return nil, nil, err
	}
	if o.MailgunKey != "" {
		on = append(on, "mailgun")
	}
	if o.ResendSecret, err = webhookKey(getenv, envResendKey, "Resend webhook's signing secret"); err != nil {
		return nil, nil, err
	}
	if o.ResendSecret != "" {
		on = append(on, "resend")
	}
	if len(on) == 0 {
		return nil, nil, nil
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, nil, err
	}
	h, err := events.Handler(strings.TrimRight(u.Path, "/")+"/webhooks", o)
	if err != nil {
		// The package's words name no secret; the variable is the user's to fix.
		return nil, nil, fmt.Errorf("webhooks: %w (%s)", err, strings.Join([]string{envSESTopics, envResendKey}, ", "))
	}
	return h, on, nil
}

// webhookKey reads a webhook's key from the variable name, or the file name_FILE names: "" when neither
// is set.
func webhookKey(getenv func(string) string, name, what string) (string, error) {
	if k := strings.TrimSpace(getenv(name)); k != "" {
		return k, nil
	}
	f := getenv(name + "_FILE")
	if f == "" {
		return "", nil
	}
	b, err := readSecretFile(name+"_FILE", "the "+what, f)
	if err != nil {
		return "", err
	}
	if k := strings.TrimSpace(string(b)); k != "" {
		return k, nil
	}
	return "", fmt.Errorf("%s_FILE names an empty file: it must hold the %s", name, what)
}
