package jma

import "encoding/xml"

// The fast path of Parse. encoding/xml's reflection-driven Decode takes
// 20–30 ms on a national-scale VXSE53 (0.7 MB), the document a safety
// confirmation system waits for most. fastUnmarshal fills the same raw
// structures with the package's byte tokenizer in exact mode, for documents
// whose Body is in the seismology1 namespace, reproducing what Decode would
// put in every field: the same element matching (by local name, in any
// namespace), the same merging of repeated elements (a string field takes the
// last value, a struct or pointer field is filled again, a slice grows), the
// same text (references decoded, "\r\n" turned into "\n", character data
// around comments and skipped child elements joined). The mapping from raw
// structures to a Report is then the same code for both paths.
//
// Whenever the input holds anything it does not reproduce exactly, it gives
// up and Parse runs encoding/xml instead: any error (a malformed document gets
// encoding/xml's error message), a construct the tokenizer does not read in
// exact mode (DOCTYPE, CDATA, non-ASCII names, …), a Body outside the
// seismology1 namespace or with a prefix, no Body, and the Body parts it does
// not decode (Tsunami, and Warning, which is not seismology).

// fastDecoder reads one document into the raw structures. ok turns false
// when it gives up, with the reason in why; every method then returns at
// once.
type fastDecoder struct {
	tz       tokenizer
	ok       bool
	why      string
	local    []byte // local name of the child element child just opened
	reportNS string // default namespace declared on Report ("" if none)
	doc      string // the document, which field values are substrings of
	buf      []byte // text of the element being read

	// The national VXSE53 has thousands of cities and stations: they are
	// allocated in chunks rather than one slice growth at a time.
	areas    slab[rawArea]
	cities   slab[rawCity]
	stations slab[rawStation]
}

// slab hands out the elements of slices from shared chunks. The elements
// one parent gets between begin and end are consecutive in a chunk, and the
// parent's slice is that run, capped so that a later append copies.
type slab[T any] struct{ buf []T }

// begin starts a run for one parent.
func (s *slab[T]) begin() int { return len(s.buf) }

// add returns a new zero element of the run started at *mark. When the
// chunk is full, the run moves to a new chunk and *mark follows it.
func (s *slab[T]) add(mark *int) *T {
	if len(s.buf) == cap(s.buf) {
		run := s.buf[*mark:]
		c := min(max(2*cap(s.buf), 16), 1024)
		nb := make([]T, len(run), max(c, 2*len(run)))
		copy(nb, run)
		s.buf, *mark = nb, 0
	}
	var zero T
	s.buf = append(s.buf, zero)
	return &s.buf[len(s.buf)-1]
}

// end appends the run started at mark to dst, as encoding/xml appends one
// element per start tag (dst is nil for a new parent: no copy then).
func (s *slab[T]) end(dst []T, mark int) []T {
	run := s.buf[mark:len(s.buf):len(s.buf)]
	if len(run) == 0 {
		return dst
	}
	if dst == nil {
		return run
	}
	return append(dst, run...)
}

// fastUnmarshal is unmarshalRaw for the documents it handles: it returns the
// raw structures encoding/xml would decode from data and true, or false when
// the caller must use unmarshalRaw.
func fastUnmarshal(data []byte) (*rawReport, bool) {
	raw, why := fastDecode(data)
	return raw, why == ""
}

// fastDecode is fastUnmarshal saying why it gives up ("" when it does not),
// for the tests.
func fastDecode(data []byte) (*rawReport, string) {
	if len(data) > MaxDocumentSize {
		return nil, "too large"
	}
	var open [16]nameSpan
	var attrs [8]attrSpan
	f := &fastDecoder{tz: tokenizer{data: data, exact: true, open: open[:0], attrs: attrs[:0]}, ok: true}
	f.buf = make([]byte, 0, 128)
	f.doc = string(data)
	// Before the root: the XML declaration, comments and text (checked).
	for {
		k, err := f.tz.next()
		if err != nil {
			return nil, err.Error()
		}
		if k == tokStart {
			break
		}
		if k != tokText && k != tokMisc {
			return nil, "no root element"
		}
	}
	if string(f.tz.qname) != "Report" {
		return nil, "prefixed root element"
	}
	raw := &rawReport{}
	for _, a := range f.tz.attrs {
		if string(a.name) == "xmlns" {
			f.reportNS = f.attrValue(a.value)
		}
	}
	raw.XMLName = xml.Name{Space: f.reportNS, Local: "Report"}
	f.report(raw)
	if !f.ok {
		return nil, f.why
	}
	if raw.Body == nil {
		return nil, "no Body"
	}
	return raw, ""
}

// giveUp makes the decoder stop; fastUnmarshal then returns false.
func (f *fastDecoder) giveUp(why string) {
	if f.ok {
		f.ok, f.why = false, why
	}
}

// child advances to the next child element of the element being read and
// reports whether there is one, leaving its local name in f.local and its
// start tag's attributes in f.tz.attrs. It returns false at the element's
// end tag (or when giving up). Character data between children is checked by
// the tokenizer and dropped, as encoding/xml drops it for a struct without a
// chardata field.
func (f *fastDecoder) child() bool {
	f.tz.skipText = true
	for f.ok {
		k, err := f.tz.next()
		if err != nil {
			f.giveUp(err.Error())
			return false
		}
		switch k {
		case tokStart:
			f.local = localName(f.tz.qname)
			return true
		case tokEnd:
			return false
		case tokEOF, tokCDATA:
			f.giveUp("unexpected token") // neither happens inside the root in exact mode
		}
	}
	return false
}

// text reads the rest of the element just opened and returns its character
// data: the direct text, decoded and joined, without that of child
// elements, which are skipped. It is what encoding/xml stores in a string
// field or a ",chardata" field. Text that needs no decoding, by far the most
// common, is a substring of the document's string: one copy of the document
// instead of one allocation per field. The copy lives as long as any string
// of the Report does, so a Report holds about the size of its document
// (markup included, 0.7 MB for the national VXSE53) where separate strings
// would hold only the text, in exchange for some 20,000 fewer allocations.
func (f *fastDecoder) text() string {
	var first []byte
	firstOff, n, plain := 0, 0, false
	for f.ok {
		f.tz.skipText = false // skip sets it
		k, err := f.tz.next()
		if err != nil {
			f.giveUp(err.Error())
			return ""
		}
		switch k {
		case tokText:
			n++
			switch n {
			case 1:
				first, firstOff, plain = f.tz.tok, f.tz.mark, f.tz.plain
				continue
			case 2:
				f.buf, _, _ = decodeText(f.buf[:0], first, true) // checked by the tokenizer
			}
			f.buf, _, _ = decodeText(f.buf, f.tz.tok, true)
		case tokStart:
			f.skip()
		case tokEnd:
			switch {
			case n == 0:
				return ""
			case n > 1:
				return string(f.buf)
			case plain:
				return f.doc[firstOff : firstOff+len(first)]
			}
			f.buf, _, _ = decodeText(f.buf[:0], first, true)
			return string(f.buf)
		case tokEOF, tokCDATA:
			f.giveUp("unexpected token")
		}
	}
	return ""
}

// skip reads the rest of the element just opened, which has no field.
func (f *fastDecoder) skip() {
	f.tz.skipText = true
	depth := 0
	for f.ok {
		k, err := f.tz.next()
		if err != nil {
			f.giveUp(err.Error())
			return
		}
		switch k {
		case tokStart:
			depth++
		case tokEnd:
			if depth == 0 {
				return
			}
			depth--
		case tokEOF, tokCDATA:
			f.giveUp("unexpected token")
		}
	}
}

// attrValue decodes an attribute value as encoding/xml does.
func (f *fastDecoder) attrValue(v []byte) string {
	f.buf, _, _ = decodeText(f.buf[:0], v, true) // checked by the tokenizer
	return string(f.buf)
}

// attr sets *dst to the value of every attribute of the start tag just read
// whose local name is name (the last one wins, in any namespace, as
// encoding/xml assigns an ",attr" field).
func (f *fastDecoder) attr(name string, dst *string) {
	for _, a := range f.tz.attrs {
		if string(localName(a.name)) == name {
			*dst = f.attrValue(a.value)
		}
	}
}

func (f *fastDecoder) report(r *rawReport) {
	for f.child() {
		switch string(f.local) {
		case "Control":
			f.control(&r.Control)
		case "Head":
			f.head(&r.Head)
		case "Body":
			f.body(r)
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) control(c *rawControl) {
	for f.child() {
		switch string(f.local) {
		case "Title":
			c.Title = f.text()
		case "DateTime":
			c.DateTime = f.text()
		case "Status":
			c.Status = f.text()
		case "EditorialOffice":
			c.EditorialOffice = f.text()
		case "PublishingOffice":
			c.PublishingOffice = f.text()
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) head(h *rawHead) {
	for f.child() {
		switch string(f.local) {
		case "Title":
			h.Title = f.text()
		case "ReportDateTime":
			h.ReportDateTime = f.text()
		case "TargetDateTime":
			h.TargetDateTime = f.text()
		case "ValidDateTime":
			h.ValidDateTime = f.text()
		case "EventID":
			h.EventID = f.text()
		case "InfoType":
			h.InfoType = f.text()
		case "Serial":
			h.Serial = f.text()
		case "InfoKind":
			h.InfoKind = f.text()
		case "InfoKindVersion":
			h.InfoKindVersion = f.text()
		case "Headline":
			f.headline(&h.Headline)
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) headline(h *rawHeadline) {
	for f.child() {
		switch string(f.local) {
		case "Text":
			h.Text = f.text()
		case "Information":
			h.Information = append(h.Information, rawInformation{})
			inf := &h.Information[len(h.Information)-1]
			f.attr("type", &inf.Type)
			for f.child() {
				if string(f.local) == "Item" {
					inf.Items = append(inf.Items, rawHLItem{})
					f.hlItem(&inf.Items[len(inf.Items)-1])
				} else {
					f.skip()
				}
			}
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) hlItem(it *rawHLItem) {
	for f.child() {
		switch string(f.local) {
		case "Kind":
			it.Kinds = append(it.Kinds, rawHLKind{})
			f.hlKind(&it.Kinds[len(it.Kinds)-1])
		case "Areas":
			f.attr("codeType", &it.Areas.CodeType)
			for f.child() {
				if string(f.local) == "Area" {
					it.Areas.Area = append(it.Areas.Area, rawCodeName{})
					f.codeName(&it.Areas.Area[len(it.Areas.Area)-1])
				} else {
					f.skip()
				}
			}
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) hlKind(k *rawHLKind) {
	for f.child() {
		switch string(f.local) {
		case "Name":
			k.Name = f.text()
		case "Code":
			k.Code = f.text()
		case "Condition":
			k.Condition = f.text()
		case "LastKind":
			if k.LastKind == nil {
				k.LastKind = &rawCodeName{}
			}
			f.codeName(k.LastKind)
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) codeName(c *rawCodeName) {
	for f.child() {
		switch string(f.local) {
		case "Name":
			c.Name = f.text()
		case "Code":
			c.Code = f.text()
		default:
			f.skip()
		}
	}
}

// body reads a Body element. encoding/xml records its namespace in
// rawBody.XMLName: the default namespace in scope, since a prefixed Body
// makes the decoder give up.
func (f *fastDecoder) body(r *rawReport) {
	if string(f.tz.qname) != "Body" {
		f.giveUp("prefixed Body")
		return
	}
	ns := f.reportNS
	for _, a := range f.tz.attrs {
		if string(a.name) == "xmlns" {
			ns = f.attrValue(a.value)
		}
	}
	if ns != NamespaceSeismology {
		f.giveUp("Body namespace " + ns)
		return
	}
	if r.Body == nil {
		r.Body = &rawBody{}
	}
	b := r.Body
	b.XMLName = xml.Name{Space: ns, Local: "Body"}
	for f.child() {
		switch string(f.local) {
		case "Earthquake":
			b.Earthquake = append(b.Earthquake, rawEarthquake{})
			f.earthquake(&b.Earthquake[len(b.Earthquake)-1])
		case "Intensity":
			if b.Intensity == nil {
				b.Intensity = &rawIntensity{}
			}
			f.intensity(b.Intensity)
		case "Comments":
			if b.Comments == nil {
				b.Comments = &rawComments{}
			}
			f.comments(b.Comments)
		case "Text":
			b.Text = f.text()
		case "NextAdvisory":
			b.NextAdvisory = f.text()
		case "Tsunami", "Warning":
			f.giveUp("Body/" + string(f.local)) // fields the fast path does not decode
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) earthquake(e *rawEarthquake) {
	for f.child() {
		switch string(f.local) {
		case "OriginTime":
			e.OriginTime = f.text()
		case "ArrivalTime":
			e.ArrivalTime = f.text()
		case "Condition":
			e.Condition = f.text()
		case "Hypocenter": // the path Hypocenter>Area
			for f.child() {
				if string(f.local) == "Area" {
					f.hypoArea(&e.Area)
				} else {
					f.skip()
				}
			}
		case "Magnitude":
			e.Magnitude = append(e.Magnitude, rawMagnitude{})
			m := &e.Magnitude[len(e.Magnitude)-1]
			f.attr("type", &m.Type)
			f.attr("condition", &m.Condition)
			f.attr("description", &m.Description)
			m.Value = f.text()
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) hypoArea(a *rawHypoArea) {
	for f.child() {
		switch string(f.local) {
		case "Name":
			a.Name = f.text()
		case "Code":
			a.Code = f.text()
		case "DetailedName":
			a.DetailedName = f.text()
		case "ReduceName":
			a.ReduceName = f.text()
		case "ReduceCode":
			a.ReduceCode = f.text()
		case "LandOrSea":
			a.LandOrSea = f.text()
		case "Coordinate":
			a.Coordinate = append(a.Coordinate, rawCoordinate{})
			c := &a.Coordinate[len(a.Coordinate)-1]
			f.attr("description", &c.Description)
			f.attr("datum", &c.Datum)
			c.Value = f.text()
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) intensity(in *rawIntensity) {
	for f.child() {
		switch string(f.local) {
		case "Observation":
			if in.Observation == nil {
				in.Observation = &rawObservation{}
			}
			f.observation(in.Observation)
		case "Forecast":
			if in.Forecast == nil {
				in.Forecast = &rawEEWForecast{}
			}
			f.eewForecast(in.Forecast)
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) eewForecast(fc *rawEEWForecast) {
	for f.child() {
		switch string(f.local) {
		case "ForecastInt":
			f.intRange(&fc.ForecastInt)
		case "ForecastLgInt":
			if fc.ForecastLgInt == nil {
				fc.ForecastLgInt = &rawRange{}
			}
			f.intRange(fc.ForecastLgInt)
		case "Pref":
			fc.Pref = append(fc.Pref, rawEEWPref{})
			p := &fc.Pref[len(fc.Pref)-1]
			for f.child() {
				switch string(f.local) {
				case "Name":
					p.Name = f.text()
				case "Code":
					p.Code = f.text()
				case "Area":
					p.Area = append(p.Area, rawEEWArea{})
					f.eewArea(&p.Area[len(p.Area)-1])
				default:
					f.skip()
				}
			}
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) intRange(r *rawRange) {
	for f.child() {
		switch string(f.local) {
		case "From":
			r.From = f.text()
		case "To":
			r.To = f.text()
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) eewArea(a *rawEEWArea) {
	for f.child() {
		switch string(f.local) {
		case "Name":
			a.Name = f.text()
		case "Code":
			a.Code = f.text()
		case "Category": // the path Category>Kind
			for f.child() {
				if string(f.local) == "Kind" {
					f.codeName(&a.Kind)
				} else {
					f.skip()
				}
			}
		case "ForecastInt":
			f.intRange(&a.ForecastInt)
		case "ArrivalTime":
			a.ArrivalTime = f.text()
		case "Condition":
			a.Condition = f.text()
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) observation(o *rawObservation) {
	for f.child() {
		switch string(f.local) {
		case "MaxInt":
			o.MaxInt = f.text()
		case "Pref":
			o.Pref = append(o.Pref, rawPref{})
			f.pref(&o.Pref[len(o.Pref)-1])
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) pref(p *rawPref) {
	mark := f.areas.begin()
	defer func() { p.Area = f.areas.end(p.Area, mark) }()
	for f.child() {
		switch string(f.local) {
		case "Name":
			p.Name = f.text()
		case "Code":
			p.Code = f.text()
		case "MaxInt":
			p.MaxInt = f.text()
		case "Revise":
			p.Revise = f.text()
		case "Area":
			f.area(f.areas.add(&mark))
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) area(a *rawArea) {
	mark := f.cities.begin()
	defer func() { a.City = f.cities.end(a.City, mark) }()
	for f.child() {
		switch string(f.local) {
		case "Name":
			a.Name = f.text()
		case "Code":
			a.Code = f.text()
		case "MaxInt":
			a.MaxInt = f.text()
		case "Revise":
			a.Revise = f.text()
		case "City":
			f.city(f.cities.add(&mark))
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) city(c *rawCity) {
	mark := f.stations.begin()
	defer func() { c.Station = f.stations.end(c.Station, mark) }()
	for f.child() {
		switch string(f.local) {
		case "Name":
			c.Name = f.text()
		case "Code":
			c.Code = f.text()
		case "MaxInt":
			c.MaxInt = f.text()
		case "Condition":
			c.Condition = f.text()
		case "Revise":
			c.Revise = f.text()
		case "IntensityStation":
			f.station(f.stations.add(&mark))
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) station(s *rawStation) {
	for f.child() {
		switch string(f.local) {
		case "Name":
			s.Name = f.text()
		case "Code":
			s.Code = f.text()
		case "Int":
			s.Int = f.text()
		case "Revise":
			s.Revise = f.text()
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) comments(c *rawComments) {
	for f.child() {
		switch string(f.local) {
		case "WarningComment":
			c.WarningComment = append(c.WarningComment, rawComment{})
			f.comment(&c.WarningComment[len(c.WarningComment)-1])
		case "ForecastComment":
			c.ForecastComment = append(c.ForecastComment, rawComment{})
			f.comment(&c.ForecastComment[len(c.ForecastComment)-1])
		case "VarComment":
			c.VarComment = append(c.VarComment, rawComment{})
			f.comment(&c.VarComment[len(c.VarComment)-1])
		case "FreeFormComment":
			c.FreeFormComment = f.text()
		default:
			f.skip()
		}
	}
}

func (f *fastDecoder) comment(c *rawComment) {
	for f.child() {
		switch string(f.local) {
		case "Text":
			c.Text = f.text()
		case "Code":
			c.Code = f.text()
		default:
			f.skip()
		}
	}
}
