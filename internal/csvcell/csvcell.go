package csvcell

// isTrigger reports whether a cell starting with c could be taken for a
// formula by a spreadsheet.
func isTrigger(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// NeedsEscape reports whether s, written as is, could start a formula or
// lose a quote on import: s is some single quotes followed by =, +, -, @, a
// tab or a CR.
func NeedsEscape(s string) bool {
	i := 0
	for i < len(s) && s[i] == '\'' {
		i++
	}
	return i < len(s) && isTrigger(s[i])
}

// Escape returns s with a leading single quote when a spreadsheet could take
// it for a formula, and s unchanged otherwise.
func Escape(s string) string {
	if NeedsEscape(s) {
		return "'" + s
	}
	return s
}

// Unescape undoes Escape: it removes one leading single quote when the rest
// still needs escaping, so what people type by hand ('=x) reads as they mean
// it (=x).
func Unescape(s string) string {
	if len(s) > 1 && s[0] == '\'' && NeedsEscape(s[1:]) {
		return s[1:]
	}
	return s
}
