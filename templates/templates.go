// Package templates holds Herald's default templates (feed stylesheet now; emails and web pages later),
// embedded in the binary; a site can override each one.
package templates

import "embed"

// FS holds the default templates by file name. feed.xsl is the XSLT 1.0 stylesheet that shows the RSS
// and Atom feeds as a readable page when they are opened in a browser.
//
//go:embed *.xsl
var FS embed.FS
