package twilio

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Choice maps one key (a digit pressed during a call, or a reply SMS) to an
// answer code of the survey form.
type Choice struct {
	// Digit is "0" to "9".
	Digit string
	// Code is the answer code, e.g. "safe".
	Code string
	// Label is what the call says for it, e.g. "無事".
	Label string
}

// Choices is the key map of a call's menu and of SMS replies.
type Choices []Choice

// DefaultChoices returns the map for the 本人 (self) question of AnpiKit's
// default form: 1 無事 "safe", 2 軽傷 "minor", 3 重傷 "serious".
func DefaultChoices() Choices {
	return Choices{
		{Digit: "1", Code: "safe", Label: "無事"},
		{Digit: "2", Code: "minor", Label: "軽傷"},
		{Digit: "3", Code: "serious", Label: "重傷"},
	}
}

func (cs Choices) check() error {
	if cs == nil {
		return nil
	}
	if len(cs) == 0 {
		return errors.New("empty")
	}
	seen := map[string]bool{}
	for i, c := range cs {
		switch {
		case len(c.Digit) != 1 || c.Digit[0] < '0' || c.Digit[0] > '9':
			return fmt.Errorf("choice %d: Digit %q is not one digit 0-9", i, c.Digit)
		case seen[c.Digit]:
			return fmt.Errorf("choice %d: Digit %q used twice", i, c.Digit)
		case c.Code == "":
			return fmt.Errorf("choice %d: Code is empty", i)
		case c.Label == "":
			return fmt.Errorf("choice %d: Label is empty", i)
		}
		seen[c.Digit] = true
	}
	return nil
}

// Parse maps a reply to its answer code. The reply must be one digit of the
// map, ASCII or full-width ("1", "１"), with nothing else but spaces
// around it; anything else ("1です", "無事", "12") is not an answer. It
// never fails on any input.
func (cs Choices) Parse(reply string) (code string, ok bool) {
	d := strings.TrimFunc(reply, unicode.IsSpace)
	if r, size := utf8.DecodeRuneInString(d); size == len(d) && r >= '０' && r <= '９' {
		d = string('0' + (r - '０'))
	}
	for _, c := range cs {
		if d == c.Digit {
			return c.Code, true
		}
	}
	return "", false
}

// ParseReply maps an inbound SMS reply to an answer of the default form's
// 本人 question with DefaultChoices: "1" is "safe", "2" "minor", "3"
// "serious". Typed text that is not one of those digits is not an answer.
func ParseReply(body string) (choice string, ok bool) {
	return DefaultChoices().Parse(body)
}

// TwiMLOptions shapes the call script.
type TwiMLOptions struct {
	// Action is the URL Twilio posts the pressed key (Digits) to.
	Action string
	// Language and Voice are the <Say> attributes; default "ja-JP".
	Language, Voice string
	// Choices is the menu; default DefaultChoices.
	Choices Choices
	// Timeout is how many seconds to wait for a key; default 10.
	Timeout int
}

func (c *Config) twimlOptions() TwiMLOptions {
	return TwiMLOptions{Action: c.GatherAction, Language: c.VoiceLanguage, Voice: c.Voice, Choices: c.Choices}
}

type twimlResponse struct {
	XMLName xml.Name    `xml:"Response"`
	Gather  twimlGather `xml:"Gather"`
	After   twimlSay    `xml:"Say"`
}

type twimlGather struct {
	Input     string     `xml:"input,attr"`
	NumDigits int        `xml:"numDigits,attr"`
	Timeout   int        `xml:"timeout,attr"`
	Action    string     `xml:"action,attr,omitempty"`
	Method    string     `xml:"method,attr"`
	Say       []twimlSay `xml:"Say"`
}

type twimlSay struct {
	Language string `xml:"language,attr"`
	Voice    string `xml:"voice,attr,omitempty"`
	Text     string `xml:",chardata"`
}

// Prompt returns the spoken menu, e.g. "無事の場合は1、軽傷の場合は2、重傷の
// 場合は3を押してください。".
func (cs Choices) Prompt() string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Label + "の場合は" + c.Digit
	}
	return strings.Join(parts, "、") + "を押してください。"
}

// TwiML returns the script of a safety call: within a <Gather numDigits="1">
// whose action is opts.Action, a <Say> of text and a <Say> of the menu;
// after it, a <Say> for a caller who pressed nothing. It is built with
// encoding/xml, so the text cannot inject TwiML. It fails if the result is
// longer than Twilio takes inline (4,000 characters).
func TwiML(text string, opts TwiMLOptions) (string, error) {
	if opts.Language == "" {
		opts.Language = DefaultVoiceLanguage
	}
	if opts.Choices == nil {
		opts.Choices = DefaultChoices()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultGatherTimeout
	}
	say := func(s string) twimlSay { return twimlSay{Language: opts.Language, Voice: opts.Voice, Text: s} }
	doc := twimlResponse{
		Gather: twimlGather{Input: "dtmf", NumDigits: 1, Timeout: opts.Timeout, Action: opts.Action, Method: "POST",
			Say: []twimlSay{say(text), say(opts.Choices.Prompt())}},
		After: say("入力が確認できませんでした。後ほどリンクから回答してください。"),
	}
	b, err := xml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("twiml: %w", err)
	}
	s := xml.Header + string(b)
	if n := utf8.RuneCountInString(s); n > MaxTwimlChars {
		return "", fmt.Errorf("twiml of %d characters, more than %s", n, strconv.Itoa(MaxTwimlChars))
	}
	return s, nil
}
