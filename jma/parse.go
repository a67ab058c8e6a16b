package jma

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Raw encoding/xml structures. Tags have no namespace, so they match the local
// name in any namespace; the Body namespace is captured in rawBody.XMLName.
type rawReport struct {
	XMLName xml.Name   `xml:"Report"`
	Control rawControl `xml:"Control"`
	Head    rawHead    `xml:"Head"`
	Body    *rawBody   `xml:"Body"`
}

type rawControl struct {
	Title            string `xml:"Title"`
	DateTime         string `xml:"DateTime"`
	Status           string `xml:"Status"`
	EditorialOffice  string `xml:"EditorialOffice"`
	PublishingOffice string `xml:"PublishingOffice"`
}

type rawHead struct {
	Title           string      `xml:"Title"`
	ReportDateTime  string      `xml:"ReportDateTime"`
	TargetDateTime  string      `xml:"TargetDateTime"`
	ValidDateTime   string      `xml:"ValidDateTime"`
	EventID         string      `xml:"EventID"`
	InfoType        string      `xml:"InfoType"`
	Serial          string      `xml:"Serial"`
	InfoKind        string      `xml:"InfoKind"`
	InfoKindVersion string      `xml:"InfoKindVersion"`
	Headline        rawHeadline `xml:"Headline"`
}

type rawHeadline struct {
	Text        string           `xml:"Text"`
	Information []rawInformation `xml:"Information"`
}

type rawInformation struct {
	Type  string      `xml:"type,attr"`
	Items []rawHLItem `xml:"Item"`
}

type rawHLItem struct {
	Kinds []rawHLKind `xml:"Kind"`
	Areas rawAreas    `xml:"Areas"`
}

type rawAreas struct {
	CodeType string        `xml:"codeType,attr"`
	Area     []rawCodeName `xml:"Area"`
}

type rawHLKind struct {
	Name      string       `xml:"Name"`
	Code      string       `xml:"Code"`
	Condition string       `xml:"Condition"`
	LastKind  *rawCodeName `xml:"LastKind"`
}

type rawCodeName struct {
	Name string `xml:"Name"`
	Code string `xml:"Code"`
}

type rawBody struct {
	XMLName      xml.Name        `xml:"Body"`
	Earthquake   []rawEarthquake `xml:"Earthquake"`
	Intensity    *rawIntensity   `xml:"Intensity"`
	Tsunami      *rawTsunami     `xml:"Tsunami"`
	Warning      []rawWarning    `xml:"Warning"`
	Comments     *rawComments    `xml:"Comments"`
	Text         string          `xml:"Text"`
	NextAdvisory string          `xml:"NextAdvisory"`
}

type rawEarthquake struct {
	OriginTime  string         `xml:"OriginTime"`
	ArrivalTime string         `xml:"ArrivalTime"`
	Condition   string         `xml:"Condition"`
	Area        rawHypoArea    `xml:"Hypocenter>Area"`
	Magnitude   []rawMagnitude `xml:"Magnitude"`
}

type rawHypoArea struct {
	Name         string          `xml:"Name"`
	Code         string          `xml:"Code"`
	DetailedName string          `xml:"DetailedName"`
	ReduceName   string          `xml:"ReduceName"`
	ReduceCode   string          `xml:"ReduceCode"`
	LandOrSea    string          `xml:"LandOrSea"`
	Coordinate   []rawCoordinate `xml:"Coordinate"`
}

type rawCoordinate struct {
	Description string `xml:"description,attr"`
	Datum       string `xml:"datum,attr"`
	Value       string `xml:",chardata"`
}

type rawMagnitude struct {
	Type        string `xml:"type,attr"`
	Condition   string `xml:"condition,attr"`
	Description string `xml:"description,attr"`
	Value       string `xml:",chardata"`
}

type rawIntensity struct {
	Observation *rawObservation `xml:"Observation"`
	Forecast    *rawEEWForecast `xml:"Forecast"`
}

type rawObservation struct {
	MaxInt string    `xml:"MaxInt"`
	Pref   []rawPref `xml:"Pref"`
}

type rawPref struct {
	Name   string    `xml:"Name"`
	Code   string    `xml:"Code"`
	MaxInt string    `xml:"MaxInt"`
	Revise string    `xml:"Revise"`
	Area   []rawArea `xml:"Area"`
}

type rawArea struct {
	Name   string    `xml:"Name"`
	Code   string    `xml:"Code"`
	MaxInt string    `xml:"MaxInt"`
	Revise string    `xml:"Revise"`
	City   []rawCity `xml:"City"`
}

type rawCity struct {
	Name      string       `xml:"Name"`
	Code      string       `xml:"Code"`
	MaxInt    string       `xml:"MaxInt"`
	Condition string       `xml:"Condition"`
	Revise    string       `xml:"Revise"`
	Station   []rawStation `xml:"IntensityStation"`
}

type rawStation struct {
	Name   string `xml:"Name"`
	Code   string `xml:"Code"`
	Int    string `xml:"Int"`
	Revise string `xml:"Revise"`
}

type rawEEWForecast struct {
	ForecastInt   rawRange     `xml:"ForecastInt"`
	ForecastLgInt *rawRange    `xml:"ForecastLgInt"`
	Pref          []rawEEWPref `xml:"Pref"`
}

type rawRange struct {
	From string `xml:"From"`
	To   string `xml:"To"`
}

type rawEEWPref struct {
	Name string       `xml:"Name"`
	Code string       `xml:"Code"`
	Area []rawEEWArea `xml:"Area"`
}

type rawEEWArea struct {
	Name        string      `xml:"Name"`
	Code        string      `xml:"Code"`
	Kind        rawCodeName `xml:"Category>Kind"`
	ForecastInt rawRange    `xml:"ForecastInt"`
	ArrivalTime string      `xml:"ArrivalTime"`
	Condition   string      `xml:"Condition"`
}

type rawTsunami struct {
	Observation *rawTsObservation `xml:"Observation"`
	Estimation  *rawTsForecast    `xml:"Estimation"`
	Forecast    *rawTsForecast    `xml:"Forecast"`
}

type rawTsForecast struct {
	Item []rawTsItem `xml:"Item"`
}

type rawTsItem struct {
	Area        rawCodeName    `xml:"Area"`
	Kind        rawCodeName    `xml:"Category>Kind"`
	LastKind    rawCodeName    `xml:"Category>LastKind"`
	FirstHeight rawFirstHeight `xml:"FirstHeight"`
	MaxHeight   rawMaxHeight   `xml:"MaxHeight"`
	Station     []rawTsStation `xml:"Station"`
}

type rawFirstHeight struct {
	ArrivalTime string `xml:"ArrivalTime"`
	Condition   string `xml:"Condition"`
	Initial     string `xml:"Initial"`
}

type rawMaxHeight struct {
	DateTime      string     `xml:"DateTime"`
	Condition     string     `xml:"Condition"`
	TsunamiHeight *rawHeight `xml:"TsunamiHeight"`
}

type rawHeight struct {
	Type        string `xml:"type,attr"`
	Unit        string `xml:"unit,attr"`
	Condition   string `xml:"condition,attr"`
	Description string `xml:"description,attr"`
	Value       string `xml:",chardata"`
}

type rawTsObservation struct {
	Item []rawTsObsItem `xml:"Item"`
}

type rawTsObsItem struct {
	Area    rawCodeName    `xml:"Area"`
	Station []rawTsStation `xml:"Station"`
}

type rawTsStation struct {
	Name        string         `xml:"Name"`
	Code        string         `xml:"Code"`
	Sensor      string         `xml:"Sensor"`
	HighTide    string         `xml:"HighTideDateTime"`
	FirstHeight rawFirstHeight `xml:"FirstHeight"`
	MaxHeight   rawMaxHeight   `xml:"MaxHeight"`
}

type rawWarning struct {
	Type string     `xml:"type,attr"`
	Item []rawWItem `xml:"Item"`
}

type rawWItem struct {
	Kind         []rawWKind  `xml:"Kind"`
	Area         rawCodeName `xml:"Area"`
	ChangeStatus string      `xml:"ChangeStatus"`
	FullStatus   string      `xml:"FullStatus"`
	EditingMark  string      `xml:"EditingMark"`
}

type rawWKind struct {
	Name      string       `xml:"Name"`
	Code      string       `xml:"Code"`
	Status    string       `xml:"Status"`
	Condition string       `xml:"Condition"`
	LastKind  *rawCodeName `xml:"LastKind"`
}

type rawComments struct {
	WarningComment  []rawComment `xml:"WarningComment"`
	ForecastComment []rawComment `xml:"ForecastComment"`
	VarComment      []rawComment `xml:"VarComment"`
	FreeFormComment string       `xml:"FreeFormComment"`
}

type rawComment struct {
	Text string `xml:"Text"`
	Code string `xml:"Code"`
}

// newDecoder returns a strict decoder that accepts UTF-8 only. encoding/xml
// never fetches or expands external entities: a DOCTYPE is passed through as a
// directive and an undeclared entity reference is a syntax error.
func newDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	return d
}

// unmarshalRaw decodes data into the raw structures (the "naive" full
// encoding/xml path, also the benchmark baseline).
func unmarshalRaw(data []byte) (*rawReport, error) {
	if len(data) > MaxDocumentSize {
		return nil, &ParseError{Msg: fmt.Sprintf("%d bytes exceed the %d byte limit", len(data), MaxDocumentSize), Err: ErrTooLarge}
	}
	var raw rawReport
	if err := newDecoder(data).Decode(&raw); err != nil {
		if strings.Contains(err.Error(), "expected element type <Report>") {
			return nil, &ParseError{Msg: err.Error(), Err: ErrNotReport}
		}
		if err == io.EOF {
			return nil, &ParseError{Msg: "no root element", Err: ErrSyntax}
		}
		return nil, &ParseError{Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
	}
	return &raw, nil
}

// Parse parses one JMA disaster XML document into typed values. Documents of
// a family this package does not type (FamilyUnsupported) still get Control
// and Head and are not an error. Parse never panics; inputs over
// MaxDocumentSize are refused with ErrTooLarge.
func Parse(data []byte) (*Report, error) {
	// Earthquake and EEW documents take the byte tokenizer (fastparse.go), about ten
	// times faster than encoding/xml on a national-scale VXSE53; any
	// document it does not decode exactly as encoding/xml would takes the
	// encoding/xml path.
	if raw, ok := fastUnmarshal(data); ok {
		return fromRaw(raw)
	}
	return parseSlow(data)
}

// parseSlow is Parse through encoding/xml only: the path for the documents
// fastUnmarshal leaves alone, and the reference the tests compare it with.
func parseSlow(data []byte) (*Report, error) {
	raw, err := unmarshalRaw(data)
	if err != nil {
		return nil, err
	}
	return fromRaw(raw)
}

// fromRaw maps the raw structures to a Report.
func fromRaw(raw *rawReport) (*Report, error) {
	var err error
	p := &parser{jst: jst()}
	r := &Report{}
	r.Type = TypeFromTitle(raw.Control.Title)
	p.typ = r.Type
	if r.Control, err = p.control(&raw.Control); err != nil {
		return nil, err
	}
	if r.Head, err = p.head(&raw.Head); err != nil {
		return nil, err
	}
	if raw.Body != nil {
		r.BodyNamespace = raw.Body.XMLName.Space
	}
	r.Family = routeFamily(r.Type, r.BodyNamespace)
	if raw.Body == nil {
		if r.Family == FamilyNotice {
			r.Notice = notice(&r.Head.Headline)
		}
		return r, nil
	}
	b := raw.Body
	r.BodyText = strings.TrimSpace(b.Text)
	if b.Comments != nil {
		r.Comments = comments(b.Comments)
	}
	if r.Cancel() {
		return r, nil
	}
	switch r.Family {
	case FamilyEarthquake:
		r.Earthquake, err = p.earthquake(b, r.Head.Title)
	case FamilyEEW:
		r.EEW, err = p.eew(b, r.Type)
	case FamilyTsunami:
		r.Tsunami, err = p.tsunami(b)
	case FamilyWarning:
		r.Warnings = warnings(b)
	case FamilyNotice:
		r.Notice = notice(&r.Head.Headline)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// jst returns the Japan Standard Time zone without depending on tzdata.
func jst() *time.Location { return time.FixedZone("JST", 9*3600) }

type parser struct {
	typ string
	jst *time.Location
}

func (p *parser) errorf(path, format string, args ...any) error {
	return &ParseError{Type: p.typ, Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidValue}
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func (p *parser) utc(path, s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, p.errorf(path, "bad time %q", s)
	}
	return t.UTC(), nil
}

func (p *parser) local(path, s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, p.errorf(path, "bad time %q", s)
	}
	return t.In(p.jst), nil
}

func (p *parser) localPtr(path, s string) (*time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	t, err := p.local(path, s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (p *parser) control(c *rawControl) (Control, error) {
	dt, err := p.utc("Control/DateTime", c.DateTime)
	if err != nil {
		return Control{}, err
	}
	return Control{
		Title:            strings.TrimSpace(c.Title),
		DateTime:         dt,
		Status:           Status(strings.TrimSpace(c.Status)),
		EditorialOffice:  strings.TrimSpace(c.EditorialOffice),
		PublishingOffice: strings.Fields(c.PublishingOffice),
	}, nil
}

func (p *parser) head(h *rawHead) (Head, error) {
	var out Head
	var err error
	out.Title = strings.TrimSpace(h.Title)
	out.ReportDateTimeRaw = strings.TrimSpace(h.ReportDateTime)
	if out.ReportDateTime, err = p.local("Head/ReportDateTime", h.ReportDateTime); err != nil {
		return out, err
	}
	if out.TargetDateTime, err = p.localPtr("Head/TargetDateTime", h.TargetDateTime); err != nil {
		return out, err
	}
	if out.ValidDateTime, err = p.localPtr("Head/ValidDateTime", h.ValidDateTime); err != nil {
		return out, err
	}
	out.EventIDs = strings.Fields(h.EventID)
	out.InfoType = InfoType(strings.TrimSpace(h.InfoType))
	out.Serial = strings.TrimSpace(h.Serial)
	out.InfoKind = strings.TrimSpace(h.InfoKind)
	out.InfoKindVersion = strings.TrimSpace(h.InfoKindVersion)
	out.Headline.Text = strings.TrimSpace(h.Headline.Text)
	for _, inf := range h.Headline.Information {
		hi := HeadlineInformation{Type: strings.TrimSpace(inf.Type)}
		for _, it := range inf.Items {
			item := HeadlineItem{AreasCodeType: strings.TrimSpace(it.Areas.CodeType)}
			for _, k := range it.Kinds {
				hk := HeadlineKind{Name: strings.TrimSpace(k.Name), Code: strings.TrimSpace(k.Code), Condition: strings.TrimSpace(k.Condition)}
				if k.LastKind != nil {
					hk.LastKind = &CodeName{Name: strings.TrimSpace(k.LastKind.Name), Code: strings.TrimSpace(k.LastKind.Code)}
				}
				if strings.HasPrefix(hk.Name, "震度") {
					if v, err := ParseIntensity(hk.Name); err == nil {
						hk.Intensity = v
					}
				}
				item.Kinds = append(item.Kinds, hk)
			}
			for _, a := range it.Areas.Area {
				item.Areas = append(item.Areas, codeName(a))
			}
			hi.Items = append(hi.Items, item)
		}
		out.Headline.Information = append(out.Headline.Information, hi)
	}
	return out, nil
}

func codeName(c rawCodeName) CodeName {
	return CodeName{Name: strings.TrimSpace(c.Name), Code: strings.TrimSpace(c.Code)}
}

func comments(c *rawComments) Comments {
	var out Comments
	for _, x := range c.WarningComment {
		out.WarningCodes = append(out.WarningCodes, strings.Fields(x.Code)...)
	}
	for _, x := range c.ForecastComment {
		out.ForecastCodes = append(out.ForecastCodes, strings.Fields(x.Code)...)
	}
	for _, x := range c.VarComment {
		out.VarCodes = append(out.VarCodes, strings.Fields(x.Code)...)
	}
	out.FreeForm = strings.TrimSpace(c.FreeFormComment)
	return out
}

func (p *parser) intensity(path, s string) (Intensity, error) {
	v, err := ParseIntensity(s)
	if err != nil {
		return IntensityNone, p.errorf(path, "unknown %s %q", path[strings.LastIndexByte(path, '/')+1:], strings.TrimSpace(s))
	}
	return v, nil
}

func (p *parser) hypocenter(e *rawEarthquake) (*Hypocenter, error) {
	h := &Hypocenter{
		Condition:    strings.TrimSpace(e.Condition),
		Name:         strings.TrimSpace(e.Area.Name),
		Code:         strings.TrimSpace(e.Area.Code),
		DetailedName: strings.TrimSpace(e.Area.DetailedName),
		ReduceName:   strings.TrimSpace(e.Area.ReduceName),
		ReduceCode:   strings.TrimSpace(e.Area.ReduceCode),
		LandOrSea:    strings.TrimSpace(e.Area.LandOrSea),
		Magnitude:    Magnitude{Value: math.NaN()},
	}
	var err error
	if h.OriginTime, err = p.localPtr("Body/Earthquake/OriginTime", e.OriginTime); err != nil {
		return nil, err
	}
	if h.ArrivalTime, err = p.localPtr("Body/Earthquake/ArrivalTime", e.ArrivalTime); err != nil {
		return nil, err
	}
	if len(e.Area.Coordinate) > 0 {
		c := e.Area.Coordinate[0]
		h.Coordinate = parseCoordinate(c.Value)
		h.Coordinate.Description = strings.TrimSpace(c.Description)
		h.Coordinate.Datum = strings.TrimSpace(c.Datum)
	}
	if len(e.Magnitude) > 0 {
		m := e.Magnitude[0]
		h.Magnitude = Magnitude{Value: parseFloatNaN(m.Value), Type: m.Type, Condition: m.Condition, Description: m.Description}
	}
	return h, nil
}

func parseFloatNaN(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// parseCoordinate reads ISO 6709 "+lat+lon[+-depth]/" in degrees and metres.
func parseCoordinate(s string) Coordinate {
	c := Coordinate{Raw: strings.TrimSpace(s)}
	t := strings.TrimSuffix(c.Raw, "/")
	var parts []float64
	for len(t) > 0 {
		if t[0] != '+' && t[0] != '-' {
			return c
		}
		j := 1
		for j < len(t) && t[j] != '+' && t[j] != '-' {
			j++
		}
		v, err := strconv.ParseFloat(t[:j], 64)
		if err != nil {
			return c
		}
		parts = append(parts, v)
		t = t[j:]
	}
	if len(parts) >= 2 {
		c.Lat, c.Lon, c.HasPosition = parts[0], parts[1], true
	}
	if len(parts) >= 3 {
		c.DepthKm, c.HasDepth = -parts[2]/1000, true
		if c.DepthKm == 0 {
			c.DepthKm = 0 // normalise -0
		}
	}
	return c
}

func (p *parser) earthquake(b *rawBody, headTitle string) (*Earthquake, error) {
	eq := &Earthquake{Far: headTitle == "遠地地震に関する情報"}
	if len(b.Earthquake) > 0 {
		h, err := p.hypocenter(&b.Earthquake[0])
		if err != nil {
			return nil, err
		}
		eq.Hypocenter = h
	}
	if b.Intensity == nil || b.Intensity.Observation == nil {
		return eq, nil
	}
	o := b.Intensity.Observation
	obs := &IntensityObservation{}
	var err error
	if obs.MaxInt, err = p.intensity("Body/Intensity/Observation/MaxInt", o.MaxInt); err != nil {
		return nil, err
	}
	for _, rp := range o.Pref {
		pr := IntensityPref{Name: strings.TrimSpace(rp.Name), Code: strings.TrimSpace(rp.Code), Revise: strings.TrimSpace(rp.Revise)}
		if pr.MaxInt, err = p.intensity("Body/Intensity/Observation/Pref/MaxInt", rp.MaxInt); err != nil {
			return nil, err
		}
		for _, ra := range rp.Area {
			ar := IntensityArea{Name: strings.TrimSpace(ra.Name), Code: strings.TrimSpace(ra.Code), Revise: strings.TrimSpace(ra.Revise)}
			if ar.MaxInt, err = p.intensity("Body/Intensity/Observation/Pref/Area/MaxInt", ra.MaxInt); err != nil {
				return nil, err
			}
			for _, rc := range ra.City {
				ci := IntensityCity{Name: strings.TrimSpace(rc.Name), Code: strings.TrimSpace(rc.Code),
					Condition: strings.TrimSpace(rc.Condition), Revise: strings.TrimSpace(rc.Revise)}
				if ci.MaxInt, err = p.intensity("Body/Intensity/Observation/Pref/Area/City/MaxInt", rc.MaxInt); err != nil {
					return nil, err
				}
				for _, rs := range rc.Station {
					st := IntensityStation{Name: strings.TrimSpace(rs.Name), Code: strings.TrimSpace(rs.Code), Revise: strings.TrimSpace(rs.Revise)}
					if st.Int, err = p.intensity("Body/Intensity/Observation/Pref/Area/City/IntensityStation/Int", rs.Int); err != nil {
						return nil, err
					}
					ci.Stations = append(ci.Stations, st)
				}
				ar.Cities = append(ar.Cities, ci)
			}
			pr.Areas = append(pr.Areas, ar)
		}
		obs.Prefs = append(obs.Prefs, pr)
	}
	eq.Intensity = obs
	return eq, nil
}

func (p *parser) intensityRange(path string, r rawRange) (IntensityRange, error) {
	var out IntensityRange
	var err error
	from := strings.TrimSpace(r.From)
	if from != "不明" {
		if out.From, err = p.intensity(path+"/From", from); err != nil {
			return out, err
		}
	}
	to := strings.TrimSpace(r.To)
	switch to {
	case "over":
		out.ToOver = true
	case "不明":
	default:
		if out.To, err = p.intensity(path+"/To", to); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (p *parser) eew(b *rawBody, typ string) (*EEW, error) {
	e := &EEW{Warning: typ == "VXSE43", NextAdvisory: strings.TrimSpace(b.NextAdvisory)}
	if len(b.Earthquake) > 0 {
		h, err := p.hypocenter(&b.Earthquake[0])
		if err != nil {
			return nil, err
		}
		e.Hypocenter = h
	}
	if b.Intensity == nil || b.Intensity.Forecast == nil {
		return e, nil
	}
	f := b.Intensity.Forecast
	var err error
	if e.ForecastInt, err = p.intensityRange("Body/Intensity/Forecast/ForecastInt", f.ForecastInt); err != nil {
		return nil, err
	}
	if f.ForecastLgInt != nil {
		// 長周期地震動階級 uses the digits 0–4, which ParseIntensity reads as 0–4.
		lg, err := p.intensityRange("Body/Intensity/Forecast/ForecastLgInt", *f.ForecastLgInt)
		if err != nil {
			return nil, err
		}
		e.ForecastLgInt = &lg
	}
	for _, rp := range f.Pref {
		for _, ra := range rp.Area {
			a := EEWArea{PrefName: strings.TrimSpace(rp.Name), PrefCode: strings.TrimSpace(rp.Code),
				Name: strings.TrimSpace(ra.Name), Code: strings.TrimSpace(ra.Code), Kind: codeName(ra.Kind),
				Condition: strings.TrimSpace(ra.Condition)}
			if a.ForecastInt, err = p.intensityRange("Body/Intensity/Forecast/Pref/Area/ForecastInt", ra.ForecastInt); err != nil {
				return nil, err
			}
			if a.ArrivalTime, err = p.localPtr("Body/Intensity/Forecast/Pref/Area/ArrivalTime", ra.ArrivalTime); err != nil {
				return nil, err
			}
			e.Areas = append(e.Areas, a)
		}
	}
	return e, nil
}

func height(m rawMaxHeight) TsunamiHeight {
	h := TsunamiHeight{Value: math.NaN(), Note: strings.TrimSpace(m.Condition)}
	if m.TsunamiHeight != nil {
		t := m.TsunamiHeight
		h.Present = true
		h.Value = parseFloatNaN(t.Value)
		h.Type, h.Unit = strings.TrimSpace(t.Type), strings.TrimSpace(t.Unit)
		h.Condition, h.Description = strings.TrimSpace(t.Condition), strings.TrimSpace(t.Description)
	}
	return h
}

func (p *parser) station(s rawTsStation) (TsunamiStation, error) {
	st := TsunamiStation{Name: strings.TrimSpace(s.Name), Code: strings.TrimSpace(s.Code), Sensor: strings.TrimSpace(s.Sensor),
		FirstCondition: strings.TrimSpace(s.FirstHeight.Condition), Initial: strings.TrimSpace(s.FirstHeight.Initial),
		MaxHeight: height(s.MaxHeight)}
	var err error
	if st.HighTide, err = p.localPtr("Body/Tsunami/Station/HighTideDateTime", s.HighTide); err != nil {
		return st, err
	}
	if st.FirstArrival, err = p.localPtr("Body/Tsunami/Station/FirstHeight/ArrivalTime", s.FirstHeight.ArrivalTime); err != nil {
		return st, err
	}
	if st.MaxDateTime, err = p.localPtr("Body/Tsunami/Station/MaxHeight/DateTime", s.MaxHeight.DateTime); err != nil {
		return st, err
	}
	return st, nil
}

func (p *parser) tsItems(path string, f *rawTsForecast) ([]TsunamiForecastItem, error) {
	if f == nil {
		return nil, nil
	}
	var out []TsunamiForecastItem
	for _, it := range f.Item {
		fi := TsunamiForecastItem{
			AreaName: strings.TrimSpace(it.Area.Name), AreaCode: strings.TrimSpace(it.Area.Code),
			Kind: TsunamiKind(strings.TrimSpace(it.Kind.Code)), KindName: strings.TrimSpace(it.Kind.Name),
			LastKind: TsunamiKind(strings.TrimSpace(it.LastKind.Code)), LastKindName: strings.TrimSpace(it.LastKind.Name),
			FirstCondition: strings.TrimSpace(it.FirstHeight.Condition),
			MaxHeight:      height(it.MaxHeight),
		}
		var err error
		if fi.FirstArrival, err = p.localPtr(path+"/Item/FirstHeight/ArrivalTime", it.FirstHeight.ArrivalTime); err != nil {
			return nil, err
		}
		for _, s := range it.Station {
			st, err := p.station(s)
			if err != nil {
				return nil, err
			}
			fi.Stations = append(fi.Stations, st)
		}
		out = append(out, fi)
	}
	return out, nil
}

func (p *parser) tsunami(b *rawBody) (*Tsunami, error) {
	t := &Tsunami{}
	if len(b.Earthquake) > 0 {
		h, err := p.hypocenter(&b.Earthquake[0])
		if err != nil {
			return nil, err
		}
		t.Hypocenter = h
	}
	if b.Tsunami == nil {
		return t, nil
	}
	var err error
	if t.Forecast, err = p.tsItems("Body/Tsunami/Forecast", b.Tsunami.Forecast); err != nil {
		return nil, err
	}
	if t.Estimations, err = p.tsItems("Body/Tsunami/Estimation", b.Tsunami.Estimation); err != nil {
		return nil, err
	}
	if o := b.Tsunami.Observation; o != nil {
		for _, it := range o.Item {
			ob := TsunamiObservation{AreaName: strings.TrimSpace(it.Area.Name), AreaCode: strings.TrimSpace(it.Area.Code)}
			for _, s := range it.Station {
				st, err := p.station(s)
				if err != nil {
					return nil, err
				}
				ob.Stations = append(ob.Stations, st)
			}
			t.Observations = append(t.Observations, ob)
		}
	}
	return t, nil
}

func warnings(b *rawBody) *Warnings {
	w := &Warnings{}
	for _, rw := range b.Warning {
		g := WarningGroup{Type: strings.TrimSpace(rw.Type), Level: warningLevel(rw.Type)}
		for _, it := range rw.Item {
			wi := WarningItem{AreaName: strings.TrimSpace(it.Area.Name), AreaCode: strings.TrimSpace(it.Area.Code),
				ChangeStatus: strings.TrimSpace(it.ChangeStatus), FullStatus: strings.TrimSpace(it.FullStatus),
				EditingMark: strings.TrimSpace(it.EditingMark)}
			for _, k := range it.Kind {
				wk := WarningKind{Name: strings.TrimSpace(k.Name), Code: strings.TrimSpace(k.Code),
					Status: WarningStatus(strings.TrimSpace(k.Status)), Condition: strings.TrimSpace(k.Condition)}
				if k.LastKind != nil {
					lk := codeName(*k.LastKind)
					wk.LastKind = &lk
				}
				wi.Kinds = append(wi.Kinds, wk)
			}
			g.Items = append(g.Items, wi)
		}
		w.Groups = append(w.Groups, g)
	}
	return w
}

func notice(h *Headline) *Notice {
	n := &Notice{}
	for _, inf := range h.Information {
		for _, it := range inf.Items {
			kinds := make([]CodeName, 0, len(it.Kinds))
			for _, k := range it.Kinds {
				kinds = append(kinds, CodeName{Name: k.Name, Code: k.Code})
			}
			for _, a := range it.Areas {
				n.Areas = append(n.Areas, NoticeArea{Name: a.Name, Code: a.Code, Kinds: kinds})
			}
		}
	}
	return n
}
