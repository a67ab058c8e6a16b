package jma

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Summary is the routing summary of a document: Control, Head (without the
// Headline) and the per-area facts a rule needs, extracted by a streaming
// byte scanner without building the full document. It is what a high-volume
// consumer uses to decide whether to look further.
type Summary struct {
	Type          string  // data type code from Control/Title
	Family        Family  // routing family
	Control       Control // 管理部
	Head          Head    // Headline is left empty
	BodyNamespace string  // namespace URI of Body

	MaxInt   Intensity        // Body/Intensity/Observation/MaxInt
	Areas    []AreaSummary    // earthquake 細分区域 (Pref/Area)
	Tsunami  []TsunamiSummary // Tsunami/Forecast/Item
	Warnings []WarningSummary // Body/Warning/Item, all levels
}

// AreaSummary is one earthquake Pref/Area. MaxInt is the Area's own value
// (IntensityNone when missing); Effective also counts its cities, including
// 震度５弱以上未入電 conditions.
type AreaSummary struct {
	PrefCode  string    // 2-digit prefecture code
	Code      string    // 3-digit 細分区域 code
	MaxInt    Intensity // the Area's own MaxInt
	Effective Intensity // MaxInt raised by its cities, incl. 未入電
}

// TsunamiSummary is one Tsunami/Forecast/Item.
type TsunamiSummary struct {
	AreaCode string      // 3-digit 津波予報区 code
	Kind     TsunamiKind // Category/Kind/Code
	LastKind TsunamiKind // Category/LastKind/Code
}

// WarningSummary is one Body/Warning/Item.
type WarningSummary struct {
	Level    WarningLevel // area level of the Warning block
	AreaCode string       // area code
	Kinds    []KindStatus // kinds with their status
}

// KindStatus is a warning Kind code with its Status. Code is "" for
// 発表警報・注意報はなし.
type KindStatus struct {
	Code   string        // kind code
	Status WarningStatus // Kind/Status
}

type elemID uint8

const (
	eOther elemID = iota
	eReport
	eControl
	eHead
	eBody
	eTitle
	eDateTime
	eStatus
	eEditorialOffice
	ePublishingOffice
	eReportDateTime
	eTargetDateTime
	eValidDateTime
	eEventID
	eInfoType
	eSerial
	eInfoKind
	eInfoKindVersion
	eIntensity
	eObservation
	eMaxInt
	ePref
	eArea
	eCity
	eCode
	eCondition
	eTsunami
	eForecast
	eItem
	eCategory
	eKind
	eLastKind
	eWarning
)

func lookupElem(b []byte) elemID {
	switch string(b) {
	case "Report":
		return eReport
	case "Control":
		return eControl
	case "Head":
		return eHead
	case "Body":
		return eBody
	case "Title":
		return eTitle
	case "DateTime":
		return eDateTime
	case "Status":
		return eStatus
	case "EditorialOffice":
		return eEditorialOffice
	case "PublishingOffice":
		return ePublishingOffice
	case "ReportDateTime":
		return eReportDateTime
	case "TargetDateTime":
		return eTargetDateTime
	case "ValidDateTime":
		return eValidDateTime
	case "EventID":
		return eEventID
	case "InfoType":
		return eInfoType
	case "Serial":
		return eSerial
	case "InfoKind":
		return eInfoKind
	case "InfoKindVersion":
		return eInfoKindVersion
	case "Intensity":
		return eIntensity
	case "Observation":
		return eObservation
	case "MaxInt":
		return eMaxInt
	case "Pref":
		return ePref
	case "Area":
		return eArea
	case "City":
		return eCity
	case "Code":
		return eCode
	case "Condition":
		return eCondition
	case "Tsunami":
		return eTsunami
	case "Forecast":
		return eForecast
	case "Item":
		return eItem
	case "Category":
		return eCategory
	case "Kind":
		return eKind
	case "LastKind":
		return eLastKind
	case "Warning":
		return eWarning
	}
	return eOther
}

// tokKind is the kind of token the tokenizer returns.
type tokKind uint8

const (
	tokEOF   tokKind = iota // end of input, or the root element has closed
	tokText                 // character data, undecoded, in tokenizer.tok
	tokCDATA                // the content of a CDATA section in tokenizer.tok
	tokStart                // a start tag: tokenizer.qname and tokenizer.attrs
	tokEnd                  // an end tag, or the end of a self-closing start tag
	tokMisc                 // a comment, processing instruction or directive
)

// attrSpan is one attribute of a start tag: name and value are slices of the
// input; the value is not decoded.
type attrSpan struct{ name, value []byte }

// nameSpan locates the qualified name of an open element in the input.
type nameSpan struct{ off, n int32 }

// tokenizer is the package's one XML byte tokenizer, shared by Summarize and
// the fast path of Parse. It reads the input in place, returns one token per
// call to next and checks that end tags match their start tags. It stops at
// the end of the root element, which must be <Report>, as encoding/xml's
// Decode does: what follows is not read.
//
// In exact mode it returns a token only where encoding/xml (strict, UTF-8
// only, see newDecoder) reads the same token, and an error for everything
// else, including input encoding/xml accepts but the fast path does not take
// on: CDATA, directives such as DOCTYPE, processing instructions other than
// an XML declaration before the root, names that are not plain ASCII. Every
// text and attribute value is checked as encoding/xml checks it (UTF-8, the
// XML Char range, the five predefined entities and character references, no
// "]]>" in text), whether the caller uses it or not, so that the fast path
// never accepts a document encoding/xml refuses. Without exact mode it is
// Summarize's lenient scanner: text is checked only where it is used,
// CDATA is read and DOCTYPEs are skipped.
type tokenizer struct {
	data     []byte
	pos      int  // next byte to read
	mark     int  // start of the current token, named in syntax errors
	exact    bool // see the type's doc
	open     []nameSpan
	closing  bool // the last start tag was self-closing: its end comes next
	rootSeen bool
	// skipText: the caller has no use for the character data at this
	// point; next reads (and in exact mode checks) it without returning it.
	skipText bool

	tok   []byte     // tokText, tokCDATA: the content
	plain bool       // tokText in exact mode: tok has no reference and no '\r'
	qname []byte     // tokStart: the qualified element name
	attrs []attrSpan // tokStart: the attributes, reused from tag to tag
}

func (t *tokenizer) syntax(format string, args ...any) error {
	return &ParseError{Msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" at byte %d", t.mark), Err: ErrSyntax}
}

// openName is the qualified name of the i-th open element.
func (t *tokenizer) openName(i int) []byte {
	f := t.open[i]
	return t.data[f.off : f.off+f.n]
}

// next returns the next token. Errors are *ParseError values of ErrSyntax
// or ErrNotReport.
func (t *tokenizer) next() (tokKind, error) {
	if t.closing {
		t.closing = false
		t.open = t.open[:len(t.open)-1]
		return tokEnd, nil
	}
	if t.rootSeen && len(t.open) == 0 {
		return tokEOF, nil
	}
	d := t.data
	t.mark = t.pos
	if t.pos >= len(d) || d[t.pos] != '<' {
		i := bytes.IndexByte(d[t.pos:], '<')
		if i < 0 {
			if len(t.open) > 0 {
				return 0, t.syntax("unexpected end of input inside <%s>", t.openName(len(t.open)-1))
			}
			return 0, &ParseError{Msg: "no root element", Err: ErrSyntax}
		}
		t.tok = d[t.pos : t.pos+i]
		t.pos += i
		if t.exact {
			var ok bool
			if ok, t.plain = validText(t.tok, false); !ok {
				return 0, t.syntax("character data the fast path does not read")
			}
		}
		if !t.skipText {
			return tokText, nil
		}
		t.mark = t.pos
	}
	rest := d[t.pos:]
	var second byte
	if len(rest) > 1 {
		second = rest[1]
	}
	switch {
	case second == '?':
		j := bytes.Index(rest, []byte("?>"))
		if j < 0 {
			return 0, t.syntax("unterminated processing instruction")
		}
		if t.exact {
			if t.rootSeen || !xmlDeclExact(rest[:j+2]) {
				return 0, t.syntax("processing instruction the fast path does not read")
			}
		} else if err := t.checkDecl(rest[:j]); err != nil {
			return 0, err
		}
		t.pos += j + 2
		return tokMisc, nil
	case second == '!' && bytes.HasPrefix(rest, []byte("<!--")):
		if t.exact {
			// encoding/xml ends a comment at its first "--", which must
			// be followed by '>'.
			j := bytes.Index(rest[4:], []byte("--"))
			if j < 0 || 4+j+2 >= len(rest) || rest[4+j+2] != '>' {
				return 0, t.syntax("comment the fast path does not read")
			}
			t.pos += 4 + j + 3
			return tokMisc, nil
		}
		j := bytes.Index(rest[4:], []byte("-->"))
		if j < 0 {
			return 0, t.syntax("unterminated comment")
		}
		t.pos += 4 + j + 3
		return tokMisc, nil
	case second == '!' && bytes.HasPrefix(rest, []byte("<![CDATA[")):
		if t.exact {
			return 0, t.syntax("CDATA section the fast path does not read")
		}
		j := bytes.Index(rest[9:], []byte("]]>"))
		if j < 0 {
			return 0, t.syntax("unterminated CDATA section")
		}
		t.tok = rest[9 : 9+j]
		t.pos += 9 + j + 3
		return tokCDATA, nil
	case second == '!':
		if t.exact {
			return 0, t.syntax("directive the fast path does not read")
		}
		// DOCTYPE or other directive: skipped, never resolved.
		depth, j := 0, 2
		for ; j < len(rest); j++ {
			c := rest[j]
			if c == '[' {
				depth++
			} else if c == ']' {
				depth--
			} else if c == '>' && depth <= 0 {
				break
			}
		}
		if j >= len(rest) {
			return 0, t.syntax("unterminated directive")
		}
		t.pos += j + 1
		return tokMisc, nil
	case second == '/':
		return t.endTag()
	default:
		return t.startTag()
	}
}

func (t *tokenizer) checkDecl(pi []byte) error {
	if !bytes.HasPrefix(pi, []byte("<?xml")) {
		return nil
	}
	k := bytes.Index(pi, []byte("encoding="))
	if k < 0 || k+10 > len(pi) {
		return nil
	}
	q := pi[k+9]
	v := pi[k+10:]
	e := bytes.IndexByte(v, q)
	if e < 0 {
		return t.syntax("bad xml declaration")
	}
	if !bytes.EqualFold(v[:e], []byte("utf-8")) && !bytes.EqualFold(v[:e], []byte("utf8")) {
		return t.syntax("unsupported encoding %q", v[:e])
	}
	return nil
}

func localName(q []byte) []byte {
	if i := bytes.IndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameEnd(c byte) bool { return isSpace(c) || c == '/' || c == '>' }

func (t *tokenizer) endTag() (tokKind, error) {
	d := t.data
	start := t.pos + 2
	if len(t.open) == 0 {
		return 0, t.syntax("unexpected end tag")
	}
	name := t.openName(len(t.open) - 1)
	j := start + len(name)
	if j > len(d) || !bytes.Equal(d[start:j], name) || (j < len(d) && !isNameEnd(d[j])) {
		k := start
		for k < len(d) && !isNameEnd(d[k]) {
			k++
		}
		return 0, t.syntax("end tag </%s> does not match <%s>", d[start:k], name)
	}
	for j < len(d) && isSpace(d[j]) {
		j++
	}
	if j >= len(d) || d[j] != '>' {
		return 0, t.syntax("malformed end tag")
	}
	t.pos = j + 1
	t.open = t.open[:len(t.open)-1]
	return tokEnd, nil
}

func (t *tokenizer) startTag() (tokKind, error) {
	d := t.data
	start := t.pos + 1
	j := start
	for j < len(d) && !isNameEnd(d[j]) {
		j++
	}
	if j == start {
		return 0, t.syntax("empty element name")
	}
	qname := d[start:j]
	if len(t.open) == 0 && string(localName(qname)) != "Report" {
		return 0, &ParseError{Msg: fmt.Sprintf("root element is <%s>, not <Report>", localName(qname)), Err: ErrNotReport}
	}
	if t.exact && !validName(qname) {
		return 0, t.syntax("element name the fast path does not read")
	}
	end, selfClose, err := t.scanAttrs(j)
	if err != nil {
		return 0, err
	}
	t.qname = qname
	t.open = append(t.open, nameSpan{off: int32(start), n: int32(j - start)})
	t.pos = end
	t.rootSeen = true
	t.closing = selfClose
	return tokStart, nil
}

// scanAttrs reads the attributes of a start tag from p into t.attrs and
// returns the index after '>' and whether the tag was self-closing.
func (t *tokenizer) scanAttrs(p int) (int, bool, error) {
	d := t.data
	t.attrs = t.attrs[:0]
	for {
		for p < len(d) && isSpace(d[p]) {
			p++
		}
		if p >= len(d) {
			return p, false, t.syntax("unterminated start tag")
		}
		switch d[p] {
		case '>':
			return p + 1, false, nil
		case '/':
			if p+1 < len(d) && d[p+1] == '>' {
				return p + 2, true, nil
			}
			return p, false, t.syntax("malformed start tag")
		}
		ns := p
		for p < len(d) && d[p] != '=' && !isSpace(d[p]) && d[p] != '>' && d[p] != '/' {
			p++
		}
		name := d[ns:p]
		for p < len(d) && isSpace(d[p]) {
			p++
		}
		if len(name) == 0 || p >= len(d) || d[p] != '=' {
			return p, false, t.syntax("attribute without value")
		}
		p++
		for p < len(d) && isSpace(d[p]) {
			p++
		}
		if p >= len(d) || (d[p] != '"' && d[p] != '\'') {
			return p, false, t.syntax("unquoted attribute value")
		}
		q := d[p]
		e := bytes.IndexByte(d[p+1:], q)
		if e < 0 {
			return p, false, t.syntax("unterminated attribute value")
		}
		val := d[p+1 : p+1+e]
		if bytes.IndexByte(val, '<') >= 0 {
			return p, false, t.syntax("'<' in attribute value")
		}
		if t.exact {
			if ok, _ := validText(val, true); !ok || !validName(name) {
				return p, false, t.syntax("attribute the fast path does not read")
			}
		}
		t.attrs = append(t.attrs, attrSpan{name: name, value: val})
		p += e + 2
	}
}

// validName reports whether q is a name that encoding/xml reads as the same
// single name and splits at the same colon: [A-Za-z_][A-Za-z0-9_.-]* with at
// most one colon, neither first nor last. (encoding/xml also takes non-ASCII
// names and names with a colon at either end; the fast path leaves those to
// it.)
func validName(q []byte) bool {
	if len(q) == 0 || q[0] == ':' || q[len(q)-1] == ':' {
		return false
	}
	colons := 0
	for i, c := range q {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', c == '_':
		case c == ':':
			colons++
		case i > 0 && ('0' <= c && c <= '9' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return colons <= 1
}

// isXMLChar reports whether r is in the XML Char production, the range
// encoding/xml accepts in text and attribute values.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// validText reports whether encoding/xml reads the raw text b (character
// data, or an attribute value when attr) without error and the way
// decodeText decodes it: valid UTF-8 in the XML Char range, references that
// entityRune knows, and in character data no "]]>". plain reports that b
// has neither a reference nor a '\r', so that it decodes to itself.
func validText(b []byte, attr bool) (ok, plain bool) {
	if !utf8.Valid(b) {
		return false, false
	}
	plain = true
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x20 && c != '&' && c != '>' && c != 0xEF {
			continue // ASCII, or part of a character other than U+Exxx–U+Fxxx
		}
		switch c {
		case '\n', '\t':
		case '\r':
			plain = false
		case 0xEF:
			// In valid UTF-8, U+FFFE and U+FFFF are the only characters
			// outside the Char range (surrogates are not valid UTF-8).
			if b[i+1] == 0xBF && (b[i+2] == 0xBE || b[i+2] == 0xBF) {
				return false, false
			}
		case '>':
			if !attr && i >= 2 && b[i-1] == ']' && b[i-2] == ']' {
				return false, false
			}
		case '&':
			e := bytes.IndexByte(b[i:], ';')
			if e < 0 {
				return false, false
			}
			r, ok := entityRune(b[i+1 : i+e])
			if !ok || !isXMLChar(r) {
				return false, false
			}
			plain = false
			i += e
		default:
			return false, false // a control character
		}
	}
	return true, plain
}

// xmlDeclExact reports whether the processing instruction pi ("<?…?>") is an
// XML declaration that encoding/xml accepts without a CharsetReader:
// version "1.0", then optionally a UTF-8 encoding and a standalone, in this
// order, each once.
func xmlDeclExact(pi []byte) bool {
	rest, ok := bytes.CutPrefix(pi, []byte("<?xml"))
	if !ok {
		return false
	}
	rest, _ = bytes.CutSuffix(rest, []byte("?>"))
	next := 0 // index of the next pseudo-attribute allowed
	for {
		trimmed := bytes.TrimLeft(rest, " \t\r\n")
		if len(trimmed) == 0 {
			break
		}
		if len(trimmed) == len(rest) {
			return false // no space before a pseudo-attribute
		}
		rest = trimmed
		eq := bytes.IndexByte(rest, '=')
		if eq < 0 || eq+1 >= len(rest) || (rest[eq+1] != '"' && rest[eq+1] != '\'') {
			return false
		}
		name := string(rest[:eq])
		e := bytes.IndexByte(rest[eq+2:], rest[eq+1])
		if e < 0 {
			return false
		}
		val := string(rest[eq+2 : eq+2+e])
		rest = rest[eq+2+e+1:]
		switch {
		case next == 0 && name == "version" && val == "1.0":
			next = 1
		case next == 1 && name == "encoding" && strings.EqualFold(val, "utf-8"):
			next = 2
		case next >= 1 && next <= 2 && name == "standalone" && (val == "yes" || val == "no"):
			next = 3
		default:
			return false
		}
	}
	return next > 0
}

// entityRune returns the character of an entity or character reference
// (the text between '&' and ';'): one of the five predefined entities or a
// decimal or hexadecimal character reference of at most 8 digits to a valid
// rune other than NUL. Nothing else is decoded: a DOCTYPE's entities are
// never expanded.
func entityRune(ent []byte) (rune, bool) {
	switch string(ent) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	return charRef(ent)
}

func charRef(ent []byte) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	base, digits := 10, ent[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, false
	}
	var n rune
	for _, c := range digits {
		var v rune
		switch {
		case c >= '0' && c <= '9':
			v = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			v = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			v = rune(c-'A') + 10
		default:
			return 0, false
		}
		n = n*rune(base) + v
	}
	if !utf8.ValidRune(n) || n == 0 {
		return 0, false
	}
	return n, true
}

// decodeText appends the raw text b to dst with its references replaced
// (entityRune) and, when crlf, "\r\n" and a lone "\r" turned into "\n" as
// encoding/xml does. On failure ok is false and bad is the reference that
// could not be read (without '&' and ';'), or nil for a '&' without ';'.
func decodeText(dst, b []byte, crlf bool) (out, bad []byte, ok bool) {
	for {
		i := bytes.IndexByte(b, '&')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		if crlf && bytes.IndexByte(seg, '\r') >= 0 {
			for k := 0; k < len(seg); k++ {
				if seg[k] != '\r' {
					dst = append(dst, seg[k])
					continue
				}
				dst = append(dst, '\n')
				if k+1 < len(seg) && seg[k+1] == '\n' {
					k++
				}
			}
		} else {
			dst = append(dst, seg...)
		}
		if i < 0 {
			return dst, nil, true
		}
		b = b[i:]
		e := bytes.IndexByte(b, ';')
		if e < 0 {
			return dst, nil, false
		}
		r, ok := entityRune(b[1:e])
		if !ok {
			return dst, b[1:e], false
		}
		dst = utf8.AppendRune(dst, r)
		b = b[e+1:]
	}
}

type frame struct {
	id      elemID
	capture bool
}

type scanner struct {
	tz        tokenizer
	stack     []frame
	text      []byte
	rootAttrs []attrSpan
	sum       *Summary

	// state
	bodyNS      string
	prefCode    string
	cityMax     Intensity
	cityCond    bool
	warnLevel   WarningLevel
	controlDT   string
	reportDT    string
	targetDT    string
	validDT     string
	intensityOK bool
}

// Summarize extracts the routing summary of a JMA document with a streaming
// byte scanner: Control, Head, the observed maximum intensity, per-area
// MaxInt, tsunami kinds and warning kinds. It checks well-formedness of the
// element structure (matching tags, quoted attributes, entities) but does not
// build the document. Inputs over MaxDocumentSize are refused with
// ErrTooLarge. DOCTYPE declarations are skipped and never resolved.
func Summarize(data []byte) (*Summary, error) {
	if len(data) > MaxDocumentSize {
		return nil, &ParseError{Msg: fmt.Sprintf("%d bytes exceed the %d byte limit", len(data), MaxDocumentSize), Err: ErrTooLarge}
	}
	var stack [32]frame
	var open [32]nameSpan
	s := &scanner{tz: tokenizer{data: data, open: open[:0], skipText: true}, stack: stack[:0], sum: &Summary{}, text: make([]byte, 0, 256)}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.finish()
}

func (s *scanner) syntax(format string, args ...any) error {
	err := s.tz.syntax(format, args...)
	err.(*ParseError).Type = s.sum.Type
	return err
}

func (s *scanner) run() error {
	for {
		k, err := s.tz.next()
		if err != nil {
			if pe, ok := err.(*ParseError); ok {
				pe.Type = s.sum.Type
			}
			return err
		}
		switch k {
		case tokEOF:
			return nil
		case tokText:
			if n := len(s.stack); n > 0 && s.stack[n-1].capture {
				if err := s.appendText(s.tz.tok); err != nil {
					return err
				}
			}
		case tokCDATA:
			if n := len(s.stack); n > 0 && s.stack[n-1].capture {
				s.text = append(s.text, s.tz.tok...)
			}
		case tokStart:
			s.startTag()
			s.tz.skipText = !s.stack[len(s.stack)-1].capture
		case tokEnd:
			if err := s.closeElem(); err != nil {
				return err
			}
			if len(s.stack) == 0 {
				return nil // root closed
			}
			s.tz.skipText = !s.stack[len(s.stack)-1].capture
		}
	}
}

func (s *scanner) startTag() {
	qname := s.tz.qname
	local := localName(qname)
	id := lookupElem(local)
	depth := len(s.stack) // depth of the new element's parent count
	switch {
	case depth == 0:
		// keep the root's attributes for namespace prefix lookups
		s.rootAttrs = append(s.rootAttrs[:0], s.tz.attrs...)
	case id == eBody && depth == 1:
		prefix := ""
		if len(local) != len(qname) {
			prefix = string(qname[:len(qname)-len(local)-1])
		}
		want := "xmlns"
		if prefix != "" {
			want = "xmlns:" + prefix
		}
		if s.bodyNS == "" {
			s.bodyNSFrom(s.rootAttrs, want)
		}
		s.bodyNSFrom(s.tz.attrs, want)
	case id == eWarning && depth == 2 && s.stack[1].id == eBody:
		s.warnLevel = LevelOther
		for _, a := range s.tz.attrs {
			if string(a.name) == "type" {
				s.warnLevel = warningLevel(string(a.value))
			}
		}
	}
	s.stack = append(s.stack, frame{id: id})
	s.openElem()
}

func (s *scanner) bodyNSFrom(attrs []attrSpan, want string) {
	for _, a := range attrs {
		if string(a.name) == want {
			s.bodyNS = strings.TrimSpace(string(a.value))
		}
	}
}

// at reports whether the stack (from Report) is exactly the given ids.
func (s *scanner) at(ids ...elemID) bool {
	if len(s.stack) != len(ids) {
		return false
	}
	for i, id := range ids {
		if s.stack[i].id != id {
			return false
		}
	}
	return true
}

func (s *scanner) openElem() {
	top := &s.stack[len(s.stack)-1]
	n := len(s.stack)
	switch {
	case n == 3 && (s.stack[1].id == eControl || s.stack[1].id == eHead):
		top.capture = true
	case n >= 5 && s.stack[1].id == eBody && s.stack[2].id == eIntensity && s.stack[3].id == eObservation:
		switch {
		case n == 5 && top.id == eMaxInt:
			top.capture = true
		case n == 5 && top.id == ePref:
			s.prefCode = ""
		case n == 6 && s.stack[4].id == ePref && (top.id == eCode || top.id == eMaxInt):
			top.capture = true
		case n == 6 && s.stack[4].id == ePref && top.id == eArea:
			s.sum.Areas = append(s.sum.Areas, AreaSummary{PrefCode: s.prefCode})
		case n == 7 && s.stack[4].id == ePref && s.stack[5].id == eArea && (top.id == eCode || top.id == eMaxInt):
			top.capture = true
		case n == 7 && s.stack[4].id == ePref && s.stack[5].id == eArea && top.id == eCity:
			s.cityMax, s.cityCond = IntensityNone, false
		case n == 8 && s.stack[5].id == eArea && s.stack[6].id == eCity && (top.id == eMaxInt || top.id == eCondition):
			top.capture = true
		}
	case n >= 5 && s.stack[1].id == eBody && s.stack[2].id == eTsunami && s.stack[3].id == eForecast && s.stack[4].id == eItem:
		switch {
		case n == 5:
			s.sum.Tsunami = append(s.sum.Tsunami, TsunamiSummary{})
		case n == 7 && s.stack[5].id == eArea && top.id == eCode:
			top.capture = true
		case n == 8 && s.stack[5].id == eCategory && (s.stack[6].id == eKind || s.stack[6].id == eLastKind) && top.id == eCode:
			top.capture = true
		}
	case n >= 4 && s.stack[1].id == eBody && s.stack[2].id == eWarning && s.stack[3].id == eItem:
		switch {
		case n == 4:
			s.sum.Warnings = append(s.sum.Warnings, WarningSummary{Level: s.warnLevel})
		case n == 5 && top.id == eKind:
			w := &s.sum.Warnings[len(s.sum.Warnings)-1]
			w.Kinds = append(w.Kinds, KindStatus{})
		case n == 6 && s.stack[4].id == eArea && top.id == eCode:
			top.capture = true
		case n == 6 && s.stack[4].id == eKind && (top.id == eCode || top.id == eStatus):
			top.capture = true
		}
	}
	if top.capture {
		s.text = s.text[:0]
	}
}

func (s *scanner) appendText(b []byte) error {
	out, bad, ok := decodeText(s.text, b, false)
	s.text = out
	if ok {
		return nil
	}
	if bad == nil {
		return s.syntax("unterminated entity reference")
	}
	return s.syntax("invalid entity reference &%s;", bad)
}

func (s *scanner) closeElem() error {
	n := len(s.stack)
	top := s.stack[n-1]
	var err error
	if top.capture {
		err = s.leaf(top.id, bytes.TrimSpace(s.text))
	}
	switch {
	case n == 7 && top.id == eCity && s.at(eReport, eBody, eIntensity, eObservation, ePref, eArea, eCity):
		a := &s.sum.Areas[len(s.sum.Areas)-1]
		c := s.cityMax
		if s.cityCond && !c.AtLeast(Intensity5Lower) {
			c = IntensityUnreceived5Lower
		}
		a.Effective = a.Effective.Max(c)
	case n == 6 && top.id == eArea && s.at(eReport, eBody, eIntensity, eObservation, ePref, eArea):
		a := &s.sum.Areas[len(s.sum.Areas)-1]
		a.Effective = a.Effective.Max(a.MaxInt)
	}
	s.stack = s.stack[:n-1]
	return err
}

func (s *scanner) intensity(what string, b []byte) (Intensity, error) {
	v, ok := parseIntensityBytes(b)
	if !ok {
		return IntensityNone, &ParseError{Type: s.sum.Type, Path: "Body/Intensity", Msg: fmt.Sprintf("unknown %s %q", what, b), Err: ErrInvalidValue}
	}
	return v, nil
}

func (s *scanner) leaf(id elemID, b []byte) error {
	st := s.stack
	n := len(st)
	sum := s.sum
	switch {
	case n == 3 && st[1].id == eControl:
		switch id {
		case eTitle:
			sum.Control.Title = string(b)
			sum.Type = TypeFromTitle(sum.Control.Title)
		case eDateTime:
			s.controlDT = string(b)
		case eStatus:
			sum.Control.Status = Status(b)
		case eEditorialOffice:
			sum.Control.EditorialOffice = string(b)
		case ePublishingOffice:
			sum.Control.PublishingOffice = strings.Fields(string(b))
		}
	case n == 3 && st[1].id == eHead:
		switch id {
		case eTitle:
			sum.Head.Title = string(b)
		case eReportDateTime:
			s.reportDT = string(b)
		case eTargetDateTime:
			s.targetDT = string(b)
		case eValidDateTime:
			s.validDT = string(b)
		case eEventID:
			sum.Head.EventIDs = strings.Fields(string(b))
		case eInfoType:
			sum.Head.InfoType = InfoType(b)
		case eSerial:
			sum.Head.Serial = string(b)
		case eInfoKind:
			sum.Head.InfoKind = string(b)
		case eInfoKindVersion:
			sum.Head.InfoKindVersion = string(b)
		}
	case st[2].id == eIntensity:
		if FamilyOf(sum.Type) != FamilyEarthquake {
			return nil
		}
		switch {
		case n == 5:
			v, err := s.intensity("MaxInt", b)
			if err != nil {
				return err
			}
			sum.MaxInt = v
		case n == 6 && id == eCode:
			s.prefCode = string(b)
		case n == 6: // Pref/MaxInt: validated only
			if _, err := s.intensity("MaxInt", b); err != nil {
				return err
			}
		case n == 7 && id == eCode:
			sum.Areas[len(sum.Areas)-1].Code = string(b)
		case n == 7:
			v, err := s.intensity("MaxInt", b)
			if err != nil {
				return err
			}
			sum.Areas[len(sum.Areas)-1].MaxInt = v
		case n == 8 && id == eMaxInt:
			v, err := s.intensity("MaxInt", b)
			if err != nil {
				return err
			}
			s.cityMax = v
		case n == 8 && id == eCondition:
			s.cityCond = string(b) == "震度５弱以上未入電"
		}
	case st[2].id == eTsunami:
		t := &sum.Tsunami[len(sum.Tsunami)-1]
		switch {
		case n == 7:
			t.AreaCode = string(b)
		case st[6].id == eKind:
			t.Kind = TsunamiKind(b)
		default:
			t.LastKind = TsunamiKind(b)
		}
	case st[2].id == eWarning:
		w := &sum.Warnings[len(sum.Warnings)-1]
		switch {
		case st[4].id == eArea:
			w.AreaCode = string(b)
		case id == eCode:
			w.Kinds[len(w.Kinds)-1].Code = string(b)
		default:
			w.Kinds[len(w.Kinds)-1].Status = WarningStatus(b)
		}
	}
	return nil
}

func (s *scanner) finish() (*Summary, error) {
	sum := s.sum
	sum.BodyNamespace = s.bodyNS
	sum.Family = routeFamily(sum.Type, sum.BodyNamespace)
	p := &parser{typ: sum.Type, jst: jst()}
	var err error
	if sum.Control.DateTime, err = p.utc("Control/DateTime", s.controlDT); err != nil {
		return nil, err
	}
	sum.Head.ReportDateTimeRaw = s.reportDT
	if sum.Head.ReportDateTime, err = p.local("Head/ReportDateTime", s.reportDT); err != nil {
		return nil, err
	}
	if sum.Head.TargetDateTime, err = p.localPtr("Head/TargetDateTime", s.targetDT); err != nil {
		return nil, err
	}
	if sum.Head.ValidDateTime, err = p.localPtr("Head/ValidDateTime", s.validDT); err != nil {
		return nil, err
	}
	cancel := sum.Head.InfoType == InfoCancel // a cancel carries no facts
	if cancel || sum.Family != FamilyEarthquake {
		sum.MaxInt, sum.Areas = IntensityNone, nil
	}
	if cancel || sum.Family != FamilyTsunami {
		sum.Tsunami = nil
	}
	if cancel || sum.Family != FamilyWarning {
		sum.Warnings = nil
	}
	return sum, nil
}
