<?xml version="1.0" encoding="UTF-8"?>
<!--
  Herald's default feed stylesheet: shows the RSS 2.0 feed (/rss) and the Atom 1.0 feed (/atom:feed) as a
  plain, readable web page when someone opens the feed's address in a browser. A site can replace it with
  its own file.

  XSLT 1.0 only (the version browsers run), output method html, no disable-output-escaping (Firefox ignores
  it), no JavaScript, no web fonts, no external CSS: everything the page needs is in the <style> below.

  Summaries. An RSS <description> and an Atom <summary type="html"> hold HTML as text, which XSLT 1.0 cannot
  parse, and which this stylesheet will not pass through unescaped. The choice made here: show each item's
  summary as plain text. The tags are stripped (a space stands in for a block-level tag such as </p> or
  <br>), the common HTML character references (&amp; &lt; &gt; &quot; &#39; &nbsp; and a few typographic
  ones) are decoded, white space is collapsed and a long summary is cut at a word boundary near 600
  characters with an ellipsis. An Atom summary of type "text" is shown as it is, one of type "xhtml" by its
  text. Without a summary the start of the full content (content:encoded, atom:content) is used the same
  way. The full post is one click away on the item's title.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:content="http://purl.org/rss/1.0/modules/content/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:media="http://search.yahoo.com/mrss/"
    exclude-result-prefixes="atom content dc media">

  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <!-- The longest summary shown, in characters, before it is cut at a word boundary. -->
  <xsl:variable name="summary-max" select="600"/>
  <!-- How much of a summary's HTML source is read at most, which bounds the recursion below. -->
  <xsl:variable name="source-max" select="6000"/>

  <xsl:variable name="months" select="'JanFebMarAprMayJunJulAugSepOctNovDec'"/>
  <xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>
  <xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>

  <!-- ============================================================ RSS 2.0 -->

  <xsl:template match="/rss">
    <xsl:variable name="ch" select="channel"/>
    <xsl:call-template name="page">
      <xsl:with-param name="format" select="'RSS'"/>
      <xsl:with-param name="lang" select="normalize-space($ch/language)"/>
      <xsl:with-param name="title" select="normalize-space($ch/title)"/>
      <xsl:with-param name="description" select="normalize-space($ch/description)"/>
      <xsl:with-param name="site" select="normalize-space($ch/link)"/>
      <xsl:with-param name="self" select="normalize-space($ch/atom:link[@rel='self'][1]/@href)"/>
      <xsl:with-param name="count" select="count($ch/item)"/>
      <xsl:with-param name="updated">
        <xsl:choose>
          <xsl:when test="normalize-space($ch/lastBuildDate)">
            <xsl:call-template name="date"><xsl:with-param name="d" select="$ch/lastBuildDate"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="normalize-space($ch/pubDate)">
            <xsl:call-template name="date"><xsl:with-param name="d" select="$ch/pubDate"/></xsl:call-template>
          </xsl:when>
        </xsl:choose>
      </xsl:with-param>
      <xsl:with-param name="items">
        <xsl:apply-templates select="$ch/item"/>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="item">
    <xsl:variable name="link">
      <xsl:choose>
        <xsl:when test="normalize-space(link)"><xsl:value-of select="normalize-space(link)"/></xsl:when>
        <xsl:when test="guid[not(@isPermaLink='false')]"><xsl:value-of select="normalize-space(guid)"/></xsl:when>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="creator">
      <xsl:for-each select="dc:creator[normalize-space()]">
        <xsl:if test="position() &gt; 1">, </xsl:if>
        <xsl:value-of select="normalize-space(.)"/>
      </xsl:for-each>
    </xsl:variable>
    <xsl:call-template name="entry">
      <xsl:with-param name="title" select="normalize-space(title)"/>
      <xsl:with-param name="link" select="$link"/>
      <xsl:with-param name="date">
        <xsl:if test="normalize-space(pubDate)">
          <xsl:call-template name="date"><xsl:with-param name="d" select="pubDate"/></xsl:call-template>
        </xsl:if>
      </xsl:with-param>
      <xsl:with-param name="author">
        <xsl:choose>
          <xsl:when test="string($creator)"><xsl:value-of select="$creator"/></xsl:when>
          <!-- <author> is "email (Name)": show the name when there is one. -->
          <xsl:when test="contains(author, '(')">
            <xsl:value-of select="normalize-space(substring-before(substring-after(author, '('), ')'))"/>
          </xsl:when>
          <xsl:otherwise><xsl:value-of select="normalize-space(author)"/></xsl:otherwise>
        </xsl:choose>
      </xsl:with-param>
      <xsl:with-param name="summary">
        <xsl:choose>
          <xsl:when test="normalize-space(description)">
            <xsl:call-template name="html-to-text"><xsl:with-param name="html" select="description"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="normalize-space(content:encoded)">
            <xsl:call-template name="html-to-text"><xsl:with-param name="html" select="content:encoded"/></xsl:call-template>
          </xsl:when>
        </xsl:choose>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <!-- ============================================================ Atom 1.0 -->

  <xsl:template match="/atom:feed">
    <xsl:call-template name="page">
      <xsl:with-param name="format" select="'Atom'"/>
      <xsl:with-param name="lang" select="normalize-space(@xml:lang)"/>
      <xsl:with-param name="title">
        <xsl:call-template name="atom-text"><xsl:with-param name="t" select="atom:title"/></xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="description">
        <xsl:call-template name="atom-text"><xsl:with-param name="t" select="atom:subtitle"/></xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="site" select="normalize-space(atom:link[@rel='alternate' or not(@rel)][1]/@href)"/>
      <xsl:with-param name="self" select="normalize-space(atom:link[@rel='self'][1]/@href)"/>
      <xsl:with-param name="count" select="count(atom:entry)"/>
      <xsl:with-param name="updated">
        <xsl:if test="normalize-space(atom:updated)">
          <xsl:call-template name="date"><xsl:with-param name="d" select="atom:updated"/></xsl:call-template>
        </xsl:if>
      </xsl:with-param>
      <xsl:with-param name="items">
        <xsl:apply-templates select="atom:entry"/>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="atom:entry">
    <!-- The entry's own authors, else the feed's (Herald leaves out an entry author who is the site's). -->
    <xsl:variable name="own" select="atom:author/atom:name[normalize-space()]"/>
    <xsl:variable name="authors" select="$own | ../atom:author/atom:name[normalize-space()][not($own)]"/>
    <xsl:call-template name="entry">
      <xsl:with-param name="title">
        <xsl:call-template name="atom-text"><xsl:with-param name="t" select="atom:title"/></xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="link" select="normalize-space(atom:link[@rel='alternate' or not(@rel)][1]/@href)"/>
      <xsl:with-param name="date">
        <xsl:choose>
          <xsl:when test="normalize-space(atom:published)">
            <xsl:call-template name="date"><xsl:with-param name="d" select="atom:published"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="normalize-space(atom:updated)">
            <xsl:call-template name="date"><xsl:with-param name="d" select="atom:updated"/></xsl:call-template>
          </xsl:when>
        </xsl:choose>
      </xsl:with-param>
      <xsl:with-param name="author">
        <xsl:for-each select="$authors">
          <xsl:if test="position() &gt; 1">, </xsl:if>
          <xsl:value-of select="normalize-space(.)"/>
        </xsl:for-each>
      </xsl:with-param>
      <xsl:with-param name="summary">
        <xsl:choose>
          <xsl:when test="normalize-space(atom:summary)">
            <xsl:call-template name="atom-text"><xsl:with-param name="t" select="atom:summary"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="normalize-space(atom:content[not(@src)])">
            <xsl:call-template name="atom-text"><xsl:with-param name="t" select="atom:content"/></xsl:call-template>
          </xsl:when>
        </xsl:choose>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <!-- An Atom text construct as plain text: type="html" is stripped of its tags, "xhtml" gives its text,
       "text" (the default) is taken as it is. -->
  <xsl:template name="atom-text">
    <xsl:param name="t"/>
    <xsl:choose>
      <xsl:when test="$t/@type = 'html'">
        <xsl:call-template name="html-to-text"><xsl:with-param name="html" select="$t"/></xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="shorten"><xsl:with-param name="s" select="normalize-space($t)"/></xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- ============================================================ The page -->

  <xsl:template name="page">
    <xsl:param name="format"/>
    <xsl:param name="lang"/>
    <xsl:param name="title"/>
    <xsl:param name="description"/>
    <xsl:param name="site"/>
    <xsl:param name="self"/>
    <xsl:param name="count"/>
    <xsl:param name="updated"/>
    <xsl:param name="items"/>
    <xsl:variable name="name">
      <xsl:choose>
        <xsl:when test="string($title)"><xsl:value-of select="$title"/></xsl:when>
        <xsl:otherwise>Untitled feed</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <html>
      <!-- The page's language is the feed's; the sentences this stylesheet adds are marked as English. -->
      <xsl:attribute name="lang">
        <xsl:choose>
          <xsl:when test="string($lang)"><xsl:value-of select="$lang"/></xsl:when>
          <xsl:otherwise>en</xsl:otherwise>
        </xsl:choose>
      </xsl:attribute>
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="color-scheme" content="light dark"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$name"/> (<xsl:value-of select="$format"/> feed)</title>
        <style>
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1f2328; --muted: #57606a; --link: #0a58b8; --visited: #6a3fb5;
  --box: #f2f6fb; --border: #d0d7de; --accent: #0a58b8;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1419; --fg: #e6edf3; --muted: #a0a9b4; --link: #79b8ff; --visited: #c5a3ff;
    --box: #17202a; --border: #34404d; --accent: #79b8ff;
  }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif;
  font-size: 1.0625rem; line-height: 1.6;
  overflow-wrap: break-word;
}
.wrap { max-width: 42rem; margin: 0 auto; padding: 1rem 1.125rem 3rem; }
a { color: var(--link); text-underline-offset: 0.15em; }
a:visited { color: var(--visited); }
a:hover { text-decoration-thickness: 2px; }
a:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; border-radius: 2px; }
.about {
  margin: 0.5rem 0 2rem; padding: 0.875rem 1rem;
  background: var(--box); border: 1px solid var(--border); border-left: 4px solid var(--accent); border-radius: 6px;
  font-size: 0.9375rem;
}
.about p { margin: 0 0 0.5rem; }
.about p:last-child { margin-bottom: 0; }
.about .url {
  display: block; margin: 0.25rem 0 0.625rem; padding: 0.5rem 0.625rem;
  background: var(--bg); border: 1px solid var(--border); border-radius: 4px;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.875rem;
  overflow-wrap: anywhere; word-break: break-all;
  -webkit-user-select: all; user-select: all;
}
.feed-head h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 0.5rem; }
.feed-head p { margin: 0 0 0.5rem; }
.feed-head .description { font-size: 1.125rem; color: var(--muted); }
.feed-head .updated { color: var(--muted); font-size: 0.9375rem; }
main h2 {
  font-size: 0.875rem; letter-spacing: 0.06em; text-transform: uppercase; color: var(--muted);
  margin: 2rem 0 0; padding-bottom: 0.5rem; border-bottom: 1px solid var(--border);
}
.items { list-style: none; margin: 0; padding: 0; }
.items li { padding: 1.125rem 0; border-bottom: 1px solid var(--border); }
.items h3 { font-size: 1.1875rem; line-height: 1.35; margin: 0 0 0.25rem; }
.items .meta { margin: 0 0 0.375rem; color: var(--muted); font-size: 0.875rem; }
.items .summary { margin: 0; }
.empty { color: var(--muted); }
footer { margin-top: 2rem; color: var(--muted); font-size: 0.875rem; }
@media (max-width: 30rem) {
  body { font-size: 1rem; }
  .feed-head h1 { font-size: 1.5rem; }
  .items h3 { font-size: 1.125rem; }
}
        </style>
      </head>
      <body>
        <div class="wrap">
          <header>
            <section class="about" lang="en" aria-labelledby="about-title">
              <p><strong id="about-title">This is a web feed</strong>, also known as an <xsl:value-of select="$format"/> feed. Follow it to get new posts in your feed reader app, with no account and no email list.</p>
              <xsl:choose>
                <xsl:when test="string($self)">
                  <p><strong>To subscribe</strong>, copy this address into your feed reader app:</p>
                  <code class="url"><xsl:value-of select="$self"/></code>
                </xsl:when>
                <xsl:otherwise>
                  <p><strong>To subscribe</strong>, copy the address of this page from your browser's address bar into your feed reader app.</p>
                </xsl:otherwise>
              </xsl:choose>
              <p>New to feeds? Search for “RSS reader”: many good ones are free, on the web, on phones and on computers.</p>
            </section>
            <div class="feed-head">
              <h1><xsl:value-of select="$name"/></h1>
              <xsl:if test="string($description) and $description != $title">
                <p class="description"><xsl:value-of select="$description"/></p>
              </xsl:if>
              <xsl:if test="string($site)">
                <p lang="en"><a href="{$site}">Visit the website<span aria-hidden="true"> →</span></a></p>
              </xsl:if>
            </div>
          </header>
          <main>
            <h2 lang="en">Recent posts</h2>
            <xsl:choose>
              <xsl:when test="$count &gt; 0">
                <ul class="items">
                  <xsl:copy-of select="$items"/>
                </ul>
              </xsl:when>
              <xsl:otherwise>
                <p class="empty" lang="en">No posts yet.</p>
              </xsl:otherwise>
            </xsl:choose>
          </main>
          <xsl:if test="string($updated)">
            <footer lang="en"><p>Last updated <xsl:copy-of select="$updated"/>.</p></footer>
          </xsl:if>
        </div>
      </body>
    </html>
  </xsl:template>

  <!-- One item of the list. $date is a <time> element made by the "date" template, or empty. -->
  <xsl:template name="entry">
    <xsl:param name="title"/>
    <xsl:param name="link"/>
    <xsl:param name="date"/>
    <xsl:param name="author"/>
    <xsl:param name="summary"/>
    <li>
      <article>
        <h3>
          <xsl:variable name="text">
            <xsl:choose>
              <xsl:when test="string($title)"><xsl:value-of select="$title"/></xsl:when>
              <xsl:otherwise>Untitled post</xsl:otherwise>
            </xsl:choose>
          </xsl:variable>
          <xsl:choose>
            <xsl:when test="string($link)"><a href="{$link}"><xsl:value-of select="$text"/></a></xsl:when>
            <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
          </xsl:choose>
        </h3>
        <xsl:if test="string($date) or string($author)">
          <p class="meta">
            <xsl:copy-of select="$date"/>
            <xsl:if test="string($date) and string($author)"> · </xsl:if>
            <xsl:if test="string($author)"><span lang="en">by </span><xsl:value-of select="$author"/></xsl:if>
          </p>
        </xsl:if>
        <xsl:if test="string($summary)">
          <p class="summary"><xsl:value-of select="$summary"/></p>
        </xsl:if>
      </article>
    </li>
  </xsl:template>

  <!-- ============================================================ Dates -->

  <!-- A <time> element for an RFC 822 date ("Wed, 29 Jan 2025 04:45:32 -0800", RSS) or an RFC 3339 one
       ("2025-01-29T04:45:32-08:00", Atom), shown as "29 Jan 2025" on the writer's own calendar day. A date
       in neither form is shown as it is. -->
  <xsl:template name="date">
    <xsl:param name="d"/>
    <xsl:variable name="s" select="normalize-space($d)"/>
    <xsl:choose>
      <!-- RFC 3339 -->
      <xsl:when test="string-length($s) &gt;= 10 and substring($s, 5, 1) = '-' and substring($s, 8, 1) = '-'
                      and number(substring($s, 6, 2)) &gt;= 1 and number(substring($s, 6, 2)) &lt;= 12
                      and number(substring($s, 9, 2)) &gt;= 1 and number(substring($s, 1, 4)) = number(substring($s, 1, 4))">
        <time lang="en" datetime="{$s}">
          <xsl:value-of select="number(substring($s, 9, 2))"/>
          <xsl:text> </xsl:text>
          <xsl:value-of select="substring($months, (number(substring($s, 6, 2)) - 1) * 3 + 1, 3)"/>
          <xsl:text> </xsl:text>
          <xsl:value-of select="substring($s, 1, 4)"/>
        </time>
      </xsl:when>
      <xsl:otherwise>
        <!-- RFC 822: an optional "Wed," then day, month, year. -->
        <xsl:variable name="rest">
          <xsl:choose>
            <xsl:when test="contains($s, ',')"><xsl:value-of select="normalize-space(substring-after($s, ','))"/></xsl:when>
            <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
          </xsl:choose>
        </xsl:variable>
        <xsl:variable name="day" select="substring-before($rest, ' ')"/>
        <xsl:variable name="mon" select="substring-before(concat(substring-after($rest, ' '), ' '), ' ')"/>
        <xsl:variable name="year" select="substring(substring-after(substring-after($rest, ' '), ' '), 1, 4)"/>
        <xsl:variable name="m" select="string-length(substring-before($months, $mon)) div 3 + 1"/>
        <xsl:choose>
          <xsl:when test="string-length($mon) = 3 and contains($months, $mon) and string-length(substring-before($months, $mon)) mod 3 = 0
                          and number($day) &gt;= 1 and number($day) &lt;= 31 and string-length($year) = 4 and number($year) = number($year)">
            <time lang="en">
              <xsl:attribute name="datetime">
                <xsl:value-of select="concat($year, '-', format-number($m, '00'), '-', format-number($day, '00'))"/>
              </xsl:attribute>
              <xsl:value-of select="concat(number($day), ' ', $mon, ' ', $year)"/>
            </time>
          </xsl:when>
          <xsl:otherwise><time><xsl:value-of select="$s"/></time></xsl:otherwise>
        </xsl:choose>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- ============================================================ HTML as text -->

  <!-- Plain text from HTML source held as text: tags dropped, character references decoded, white space
       collapsed, then shortened. -->
  <xsl:template name="html-to-text">
    <xsl:param name="html"/>
    <xsl:variable name="text">
      <xsl:call-template name="strip-tags">
        <xsl:with-param name="s" select="substring(string($html), 1, $source-max)"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:call-template name="shorten"><xsl:with-param name="s" select="normalize-space($text)"/></xsl:call-template>
  </xsl:template>

  <!-- Drops every <...>; a block-level tag leaves a space so that "<p>a</p><p>b</p>" reads "a b". An
       unclosed "<" at the end (the source cut by $source-max) drops the rest. -->
  <xsl:template name="strip-tags">
    <xsl:param name="s"/>
    <xsl:choose>
      <xsl:when test="contains($s, '&lt;')">
        <xsl:call-template name="decode">
          <xsl:with-param name="s" select="substring-before($s, '&lt;')"/>
        </xsl:call-template>
        <xsl:variable name="after" select="substring-after($s, '&lt;')"/>
        <xsl:if test="contains($after, '&gt;')">
          <xsl:variable name="tag" select="substring-before($after, '&gt;')"/>
          <xsl:variable name="name" select="translate(substring-before(concat(normalize-space(translate($tag, '/', ' ')), ' '), ' '), $upper, $lower)"/>
          <xsl:if test="contains(' p br div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 blockquote pre table tr td th hr figure figcaption section article header footer aside img ',
                                 concat(' ', $name, ' '))">
            <xsl:text> </xsl:text>
          </xsl:if>
          <xsl:call-template name="strip-tags">
            <xsl:with-param name="s" select="substring-after($after, '&gt;')"/>
          </xsl:call-template>
        </xsl:if>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="decode"><xsl:with-param name="s" select="$s"/></xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- Decodes the common HTML character references in one pass (so "&amp;lt;" gives "&lt;", not "<"); an
       unknown one is left as it is. -->
  <xsl:template name="decode">
    <xsl:param name="s"/>
    <xsl:choose>
      <xsl:when test="contains($s, '&amp;')">
        <xsl:value-of select="substring-before($s, '&amp;')"/>
        <xsl:variable name="rest" select="substring-after($s, '&amp;')"/>
        <xsl:variable name="ref" select="substring-before($rest, ';')"/>
        <xsl:variable name="char">
          <xsl:if test="string-length($ref) &gt; 0 and string-length($ref) &lt;= 8">
            <xsl:choose>
              <xsl:when test="$ref = 'amp' or $ref = '#38' or $ref = '#x26'">&amp;</xsl:when>
              <xsl:when test="$ref = 'lt' or $ref = '#60' or $ref = '#x3C' or $ref = '#x3c'">&lt;</xsl:when>
              <xsl:when test="$ref = 'gt' or $ref = '#62' or $ref = '#x3E' or $ref = '#x3e'">&gt;</xsl:when>
              <xsl:when test="$ref = 'quot' or $ref = '#34' or $ref = '#x22'">"</xsl:when>
              <xsl:when test="$ref = 'apos' or $ref = '#39' or $ref = '#x27'">'</xsl:when>
              <xsl:when test="$ref = 'nbsp' or $ref = '#160' or $ref = '#xA0' or $ref = '#xa0'"><xsl:text> </xsl:text></xsl:when>
              <xsl:when test="$ref = 'hellip' or $ref = '#8230'">…</xsl:when>
              <xsl:when test="$ref = 'mdash' or $ref = '#8212'">—</xsl:when>
              <xsl:when test="$ref = 'ndash' or $ref = '#8211'">–</xsl:when>
              <xsl:when test="$ref = 'lsquo' or $ref = '#8216'">‘</xsl:when>
              <xsl:when test="$ref = 'rsquo' or $ref = '#8217'">’</xsl:when>
              <xsl:when test="$ref = 'ldquo' or $ref = '#8220'">“</xsl:when>
              <xsl:when test="$ref = 'rdquo' or $ref = '#8221'">”</xsl:when>
              <xsl:when test="$ref = 'laquo' or $ref = '#171'">«</xsl:when>
              <xsl:when test="$ref = 'raquo' or $ref = '#187'">»</xsl:when>
              <xsl:when test="$ref = 'copy' or $ref = '#169'">©</xsl:when>
            </xsl:choose>
          </xsl:if>
        </xsl:variable>
        <xsl:choose>
          <xsl:when test="string($char)">
            <xsl:value-of select="$char"/>
            <xsl:call-template name="decode"><xsl:with-param name="s" select="substring-after($rest, ';')"/></xsl:call-template>
          </xsl:when>
          <xsl:otherwise>
            <xsl:text>&amp;</xsl:text>
            <xsl:call-template name="decode"><xsl:with-param name="s" select="$rest"/></xsl:call-template>
          </xsl:otherwise>
        </xsl:choose>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- $s as it is when it is short enough, else cut after the last space before $summary-max with "…". -->
  <xsl:template name="shorten">
    <xsl:param name="s"/>
    <xsl:choose>
      <xsl:when test="string-length($s) &lt;= $summary-max"><xsl:value-of select="$s"/></xsl:when>
      <xsl:otherwise>
        <xsl:variable name="head" select="substring($s, 1, $summary-max)"/>
        <xsl:variable name="cut">
          <xsl:call-template name="before-last-space"><xsl:with-param name="s" select="$head"/></xsl:call-template>
        </xsl:variable>
        <xsl:choose>
          <xsl:when test="string-length($cut) &gt; $summary-max div 2"><xsl:value-of select="$cut"/></xsl:when>
          <xsl:otherwise><xsl:value-of select="$head"/></xsl:otherwise>
        </xsl:choose>
        <xsl:text>…</xsl:text>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The part of $s before its last space ("" when it has none). -->
  <xsl:template name="before-last-space">
    <xsl:param name="s"/>
    <xsl:if test="contains($s, ' ')">
      <xsl:value-of select="substring-before($s, ' ')"/>
      <xsl:variable name="rest" select="substring-after($s, ' ')"/>
      <xsl:if test="contains($rest, ' ')">
        <xsl:text> </xsl:text>
        <xsl:call-template name="before-last-space"><xsl:with-param name="s" select="$rest"/></xsl:call-template>
      </xsl:if>
    </xsl:if>
  </xsl:template>

  <!-- Anything else (an unknown root) gets no output rather than its raw text. -->
  <xsl:template match="/*" priority="-1"/>
</xsl:stylesheet>
