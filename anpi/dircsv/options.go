package dircsv

// Encoding is the character encoding of a CSV file.
type Encoding int

// The encodings.
const (
	// Auto detects the encoding on import: UTF-8 (with or without a byte
	// order mark), else Shift_JIS. On export it means UTF8.
	Auto Encoding = iota
	// UTF8 is UTF-8. Exports start with a byte order mark unless
	// Options.NoBOM is set, so Excel opens them correctly.
	UTF8
	// ShiftJIS is Shift_JIS as Windows and Excel write it (Windows-31J,
	// the WHATWG "Shift_JIS").
	ShiftJIS
)

// String returns "auto", "utf-8" or "shift_jis".
func (e Encoding) String() string {
	switch e {
	case Auto:
		return "auto"
	case UTF8:
		return "utf-8"
	case ShiftJIS:
		return "shift_jis"
	}
	return "unknown"
}

// Mode says what an import does to the directory entries that are absent
// from its files.
type Mode int

// The import modes.
const (
	// Upsert adds and changes what the files list and removes nothing.
	Upsert Mode = iota
	// Sync also removes users absent from the users file (except holders of
	// a SystemAdmin grant, who are kept) and departments absent from the
	// departments file (only when they end up with no members and no role
	// grants; otherwise the import fails).
	Sync
)

// String returns "upsert" or "sync".
func (m Mode) String() string {
	if m == Sync {
		return "sync"
	}
	return "upsert"
}

// Options tune imports and exports. A nil *Options means the defaults.
type Options struct {
	// Encoding of the files: Auto (the default) detects it on import and
	// writes UTF-8 with a byte order mark on export.
	Encoding Encoding
	// NoBOM leaves the byte order mark out of UTF-8 exports.
	NoBOM bool
	// JapaneseHeaders makes exports write the Japanese column names
	// (社員番号, 氏名, …) instead of the English ones.
	JapaneseHeaders bool
	// Mode is Upsert (the default) or Sync.
	Mode Mode
	// MaxErrors caps the row errors an import collects; 0 means
	// DefaultMaxErrors.
	MaxErrors int
}

func (o *Options) orDefault() *Options {
	if o == nil {
		return &Options{}
	}
	return o
}

func (o *Options) maxErrors() int {
	if o == nil || o.MaxErrors <= 0 {
		return DefaultMaxErrors
	}
	return o.MaxErrors
}
