// Package templates holds Herald's default templates (the feed stylesheet, the emails and the pages of
// herald serve), embedded in the binary; a site can override each one.
package templates

import "embed"

// FS holds the default templates by file name:
//
//   - feed.xsl: the XSLT 1.0 stylesheet that shows the RSS and Atom feeds as a readable page when they are
//     opened in a browser.
//   - email.html, email.txt: the frame of every email (the hidden preheader, the optional greeting, the
//     footer with the unsubscribe link and the postal address); each defines the page and calls the
//     template "body".
//   - post.html, post.txt: "body" for an email with one post.
//   - digest.html, digest.txt: "body" for a digest of several posts.
//   - email.css: the stylesheet of the HTML emails' frame, and content.css: of the post's own HTML in
//     them. Package mailer inlines both.
//   - confirm.html, confirm.txt: the confirmation email of the web sign-up (double opt-in), whole pages of
//     their own: there is no list to unsubscribe from yet.
//   - pages/layout.html and pages/*.html: the pages of herald serve (html/template). layout.html defines
//     the page and calls the template "content", which each other page defines; choices.html defines
//     "choices", the name, frequency, topics and language fields that subscribe.html and preferences.html
//     both call.
//
//go:embed *.xsl *.html *.txt *.css pages/*.html
var FS embed.FS
