/* clean_text — article text as prose: the HTML leftovers of the news corpus
 * removed, entities decoded, whitespace normalised.
 *
 * The corpus was scraped from news sites and kept fragments of their markup,
 * many of them damaged: whole tags (<br/>, <strong>, <a href="…">, <script>…
 * </script>), closing tags that lost their '>' and run into the next word
 * ("</strongThe benchmark…"), opening tags that lost their '<' and are glued to
 * the previous word ("today.strong>Teams:", "Rehmanstrong>Fast",
 * "span style=\"font-size: 14pt;\">"), attribute runs whose tag name is gone
 * (" dir=\"ltr\" lang=\"en\">", " style=\"text-align: left;\">") and
 * self-closing tails ("./>"). One forward pass removes them:
 *   - '<' starting a known tag name (or any letter run followed by a tag-ish
 *     character) begins a tag: name, then attributes, ending at '>' or at the
 *     first character that cannot continue a tag. <script>/<style> take their
 *     content with them; <!-- … --> and <![CDATA[ … ]]> are dropped whole.
 *   - A '>' that no tag consumed looks back over what was just written for a
 *     tag tail (an optional '/', attributes name="value", a known tag name)
 *     and removes it; a '>' with no such tail is prose and stays.
 *   - A removed tag leaves a line break (block tags: br, p, div, strong — the
 *     corpus uses <strong> for sub-headings — …) or a space (inline tags: a,
 *     span, em …) where words would otherwise touch, and nothing before
 *     punctuation or whitespace.
 * Then &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric references are
 * decoded; the acute accent used as an apostrophe between letters
 * ("world´s", 4971 times in the corpus) becomes ’ so words tokenise as with an
 * apostrophe; control characters are dropped; every run of whitespace
 * (including U+00A0 and the other Unicode spaces) becomes one space, or one
 * '\n' if it held a line break; leading and trailing whitespace goes.
 */
#ifndef RAGD_INGEST_CLEAN_TEXT_H
#define RAGD_INGEST_CLEAN_TEXT_H

#include <stddef.h>

/* The cleaned text of n bytes of UTF-8 as a new NUL-terminated string (the
 * caller frees); *out_len (optional) receives its length. */
char *clean_text(const char *s, size_t n, size_t *out_len);

#endif
