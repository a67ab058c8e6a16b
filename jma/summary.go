package jma

import (
	"bytes"
	"fmt"
	"strings"
	"time"
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

type frame struct {
	id       elemID
	off, n   int32 // qualified name in the input, to check the end tag
	capture  bool
	inObsPre bool
}

type scanner struct {
	data    []byte
	pos     int
	stack   []frame
	text    []byte
	rootTag []byte
	sum     *Summary
	jst     *time.Location

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
	s := &scanner{data: data, stack: stack[:0], sum: &Summary{}, text: make([]byte, 0, 256)}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.finish()
}

func (s *scanner) syntax(format string, args ...any) error {
	return &ParseError{Type: s.sum.Type, Msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" at byte %d", s.pos), Err: ErrSyntax}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) run() error {
	d := s.data
	rootSeen := false
	for {
		i := bytes.IndexByte(d[s.pos:], '<')
		if i < 0 {
			if len(s.stack) > 0 {
				return s.syntax("unexpected end of input inside <%s>", s.name(len(s.stack)-1))
			}
			if !rootSeen {
				return &ParseError{Msg: "no root element", Err: ErrSyntax}
			}
			return nil
		}
		if i > 0 && len(s.stack) > 0 && s.stack[len(s.stack)-1].capture {
			if err := s.appendText(d[s.pos : s.pos+i]); err != nil {
				return err
			}
		}
		s.pos += i
		rest := d[s.pos:]
		var second byte
		if len(rest) > 1 {
			second = rest[1]
		}
		switch {
		case second == '?':
			j := bytes.Index(rest, []byte("?>"))
			if j < 0 {
				return s.syntax("unterminated processing instruction")
			}
			if err := s.checkDecl(rest[:j]); err != nil {
				return err
			}
			s.pos += j + 2
		case second == '!' && bytes.HasPrefix(rest, []byte("<!--")):
			j := bytes.Index(rest[4:], []byte("-->"))
			if j < 0 {
				return s.syntax("unterminated comment")
			}
			s.pos += 4 + j + 3
		case second == '!' && bytes.HasPrefix(rest, []byte("<![CDATA[")):
			j := bytes.Index(rest[9:], []byte("]]>"))
			if j < 0 {
				return s.syntax("unterminated CDATA section")
			}
			if len(s.stack) > 0 && s.stack[len(s.stack)-1].capture {
				s.text = append(s.text, rest[9:9+j]...)
			}
			s.pos += 9 + j + 3
		case second == '!':
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
				return s.syntax("unterminated directive")
			}
			s.pos += j + 1
		case second == '/':
			if err := s.endTag(); err != nil {
				return err
			}
			if len(s.stack) == 0 {
				return nil // root closed
			}
		default:
			if rootSeen && len(s.stack) == 0 {
				return nil
			}
			if err := s.startTag(); err != nil {
				return err
			}
			rootSeen = true
			if len(s.stack) == 0 {
				return nil // self-closing root
			}
		}
	}
}

func (s *scanner) checkDecl(pi []byte) error {
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
		return s.syntax("bad xml declaration")
	}
	if !bytes.EqualFold(v[:e], []byte("utf-8")) && !bytes.EqualFold(v[:e], []byte("utf8")) {
		return s.syntax("unsupported encoding %q", v[:e])
	}
	return nil
}

func (s *scanner) name(i int) string {
	f := s.stack[i]
	return string(s.data[f.off : f.off+f.n])
}

func localName(q []byte) []byte {
	if i := bytes.IndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

func isNameEnd(c byte) bool { return isSpace(c) || c == '/' || c == '>' }

func (s *scanner) endTag() error {
	d := s.data
	start := s.pos + 2
	if len(s.stack) == 0 {
		return s.syntax("unexpected end tag")
	}
	top := s.stack[len(s.stack)-1]
	name := d[top.off : top.off+top.n]
	j := start + len(name)
	if j > len(d) || !bytes.Equal(d[start:j], name) || (j < len(d) && !isNameEnd(d[j])) {
		k := start
		for k < len(d) && !isNameEnd(d[k]) {
			k++
		}
		return s.syntax("end tag </%s> does not match <%s>", d[start:k], name)
	}
	for j < len(d) && isSpace(d[j]) {
		j++
	}
	if j >= len(d) || d[j] != '>' {
		return s.syntax("malformed end tag")
	}
	s.pos = j + 1
	return s.closeElem()
}

// attrs scans attributes from p to the end of the tag; it calls fn for each
// and returns the index after '>' and whether the tag was self-closing.
func (s *scanner) attrs(p int, fn func(name, value []byte) error) (int, bool, error) {
	d := s.data
	for {
		for p < len(d) && isSpace(d[p]) {
			p++
		}
		if p >= len(d) {
			return p, false, s.syntax("unterminated start tag")
		}
		switch d[p] {
		case '>':
			return p + 1, false, nil
		case '/':
			if p+1 < len(d) && d[p+1] == '>' {
				return p + 2, true, nil
			}
			return p, false, s.syntax("malformed start tag")
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
			return p, false, s.syntax("attribute without value")
		}
		p++
		for p < len(d) && isSpace(d[p]) {
			p++
		}
		if p >= len(d) || (d[p] != '"' && d[p] != '\'') {
			return p, false, s.syntax("unquoted attribute value")
		}
		q := d[p]
		e := bytes.IndexByte(d[p+1:], q)
		if e < 0 {
			return p, false, s.syntax("unterminated attribute value")
		}
		val := d[p+1 : p+1+e]
		if bytes.IndexByte(val, '<') >= 0 {
			return p, false, s.syntax("'<' in attribute value")
		}
		if fn != nil {
			if err := fn(name, val); err != nil {
				return p, false, err
			}
		}
		p += e + 2
	}
}

func (s *scanner) startTag() error {
	d := s.data
	start := s.pos + 1
	j := start
	for j < len(d) && !isNameEnd(d[j]) {
		j++
	}
	if j == start {
		return s.syntax("empty element name")
	}
	qname := d[start:j]
	local := localName(qname)
	id := lookupElem(local)
	depth := len(s.stack) // depth of the new element's parent count
	if depth == 0 && id != eReport {
		return &ParseError{Msg: fmt.Sprintf("root element is <%s>, not <Report>", local), Err: ErrNotReport}
	}
	var fn func(name, value []byte) error
	switch {
	case depth == 0:
		// keep the root start tag for namespace prefix lookups
	case id == eBody && depth == 1:
		prefix := ""
		if len(local) != len(qname) {
			prefix = string(qname[:len(qname)-len(local)-1])
		}
		want := "xmlns"
		if prefix != "" {
			want = "xmlns:" + prefix
		}
		fn = func(name, value []byte) error {
			if string(name) == want {
				s.bodyNS = strings.TrimSpace(string(value))
			}
			return nil
		}
		if s.bodyNS == "" && s.rootTag != nil {
			_, _, _ = (&scanner{data: s.rootTag}).attrs(0, func(name, value []byte) error {
				if string(name) == want {
					s.bodyNS = strings.TrimSpace(string(value))
				}
				return nil
			})
		}
	case id == eWarning && depth == 2 && s.stack[1].id == eBody:
		s.warnLevel = LevelOther
		fn = func(name, value []byte) error {
			if string(name) == "type" {
				s.warnLevel = warningLevel(string(value))
			}
			return nil
		}
	}
	end, selfClose, err := s.attrs(j, fn)
	if err != nil {
		return err
	}
	if depth == 0 {
		s.rootTag = d[j:end]
	}
	s.stack = append(s.stack, frame{id: id, off: int32(start), n: int32(j - start)})
	s.pos = end
	s.openElem()
	if selfClose {
		return s.closeElem()
	}
	return nil
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
	if bytes.IndexByte(b, '&') < 0 {
		s.text = append(s.text, b...)
		return nil
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			s.text = append(s.text, b...)
			return nil
		}
		s.text = append(s.text, b[:i]...)
		b = b[i:]
		e := bytes.IndexByte(b, ';')
		if e < 0 {
			return s.syntax("unterminated entity reference")
		}
		ent := b[1:e]
		switch string(ent) {
		case "lt":
			s.text = append(s.text, '<')
		case "gt":
			s.text = append(s.text, '>')
		case "amp":
			s.text = append(s.text, '&')
		case "apos":
			s.text = append(s.text, '\'')
		case "quot":
			s.text = append(s.text, '"')
		default:
			r, ok := charRef(ent)
			if !ok {
				return s.syntax("invalid entity reference &%s;", ent)
			}
			s.text = utf8.AppendRune(s.text, r)
		}
		b = b[e+1:]
	}
	return nil
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
