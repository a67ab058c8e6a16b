package web

import "github.com/anpikit/anpi/anpi"

// messages are a page's fixed texts in one locale.
type messages struct {
	LangName, Drill, Hello, Required, Submit, Change, Your, Confirm   string
	Thanks, Invalid, Closed, TooMany, Forbidden, BadRequest, Internal string
	ContactAsk, ContactDone, NotMine, ContactWrong                    string
}

// msgs returns the fixed texts in locale l.
func msgs(l anpi.Locale) *messages {
	if l == anpi.English {
		return &messages{
			LangName:    "English",
			Drill:       "DRILL",
			Hello:       "To",
			Required:    "required",
			Submit:      "Send",
			Change:      "Change my answer",
			Your:        "Your answer",
			Confirm:     "Confirm",
			Thanks:      "Thank you. Your answer was recorded.",
			Invalid:     "Please check your answers.",
			Closed:      "This survey no longer takes answers.",
			TooMany:     "Too many attempts. Please wait a minute and try again.",
			Forbidden:   "This form has expired. Please open the link from your message again.",
			BadRequest:  "The form could not be read.",
			Internal:    "Something went wrong. Please try again.",
			ContactAsk:  "Please confirm that this contact reaches you.",
			ContactDone: "Thank you. Your contact is confirmed.",
			NotMine:     "This is not my contact",
			ContactWrong: "Thank you. No more messages will go to this contact; " +
				"your company's administrators will see that it needs correcting.",
		}
	}
	return &messages{
		LangName:    "日本語",
		Drill:       "訓練",
		Hello:       "宛先",
		Required:    "必須",
		Submit:      "送信",
		Change:      "回答を変更する",
		Your:        "あなたの回答",
		Confirm:     "確認しました",
		Thanks:      "ご回答ありがとうございました。回答を記録しました。",
		Invalid:     "回答を確認してください。",
		Closed:      "この安否確認は回答の受付を終了しました。",
		TooMany:     "送信が多すぎます。1分ほど待ってからもう一度お試しください。",
		Forbidden:   "このフォームは無効です。メッセージのリンクをもう一度開いてください。",
		BadRequest:  "フォームを読み取れませんでした。",
		Internal:    "エラーが発生しました。もう一度お試しください。",
		ContactAsk:  "この連絡先があなたに届いていることを確認してください。",
		ContactDone: "ありがとうございました。連絡先を確認しました。",
		NotMine:     "これは私の連絡先ではありません",
		ContactWrong: "ありがとうございました。この連絡先には今後送信しません。" +
			"管理者の画面に修正が必要な連絡先として表示されます。",
	}
}

// pageCSS is the pages' only style, inline and allowed by its hash in the
// Content-Security-Policy.
const pageCSS = `body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:40rem;line-height:1.5}` +
	`h1{font-size:1.3rem}fieldset{border:1px solid #ccc;border-radius:.5rem;margin:0 0 1rem}` +
	`label{display:block;padding:.5rem 0;font-size:1.1rem}textarea{width:100%;min-height:5rem;font-size:1rem}` +
	`button{font-size:1.2rem;padding:.7rem 2rem}.err{color:#b00;font-weight:bold}.drill{color:#b00}nav{text-align:right}`

// pageTemplate renders every page.
const pageTemplate = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{if .Title}}{{.Title}}{{else}}AnpiKit{{end}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
{{- if .Other}}
<nav><a href="{{.Other}}" hreflang="{{if eq .Lang "ja"}}en{{else}}ja{{end}}">{{.OtherL}}</a></nav>
{{- end}}
{{- if .Title}}
<h1>{{if .Drill}}<span class="drill">[{{.M.Drill}}]</span> {{end}}{{.Title}}</h1>
{{- end}}
{{- if .Event}}
<p>{{.Event}}</p>
{{- end}}
{{- if .Name}}
<p>{{.M.Hello}}: {{.Name}}</p>
{{- end}}
{{- if .Message}}
<p>{{.Message}}</p>
{{- end}}
{{- if .Answers}}
<h2>{{.M.Your}}</h2>
<dl>
{{- range .Answers}}
<dt>{{.Question}}</dt><dd>{{.Answer}}</dd>
{{- end}}
</dl>
{{- end}}
{{- if .Back}}
<p><a href="{{.Back}}">{{.M.Change}}</a></p>
{{- end}}
{{- if .Form}}
{{- if .Error}}
<p class="err" role="alert">{{.Error}}</p>
{{- end}}
<form method="post" action="?lang={{.Lang}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
{{- range .Form}}
<fieldset>
<legend>{{.Label}}{{if .Required}} ({{$.M.Required}}){{end}}</legend>
{{- if .Radio}}{{$q := .}}
{{- range .Choices}}
<label><input type="radio" name="{{$q.Name}}" value="{{.Code}}"{{if .Checked}} checked{{end}}> {{.Label}}</label>
{{- end}}
{{- else if .Checkbox}}{{$q := .}}
{{- range .Choices}}
<label><input type="checkbox" name="{{$q.Name}}" value="{{.Code}}"{{if .Checked}} checked{{end}}> {{.Label}}</label>
{{- end}}
{{- else}}
<textarea name="{{.Name}}" maxlength="{{.MaxLength}}" aria-label="{{.Label}}">{{.Text}}</textarea>
{{- end}}
</fieldset>
{{- end}}
<button type="submit">{{.M.Submit}}</button>
</form>
{{- end}}
{{- if .Contact}}
<form method="post" action="?lang={{.Lang}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit">{{.M.Confirm}}</button>
</form>
<form method="post" action="?lang={{.Lang}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="wrong" value="1">
<button type="submit">{{.M.NotMine}}</button>
</form>
{{- end}}
</body>
</html>
`
