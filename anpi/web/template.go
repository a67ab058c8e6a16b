package web

import (
	"fmt"

	"github.com/anpikit/anpi/anpi"
)

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
	`button{font-size:1.2rem;padding:.7rem 2rem}.err{color:#b00;font-weight:bold}.drill{color:#b00}nav{text-align:right}` +
	`input,select{font-size:1rem;display:block;width:100%;max-width:30rem}.note{color:#555;font-size:.9rem}.ok,.done{color:#060}.wait{color:#850}.bad{color:#b00}`

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

// selfMessages are the registration page's texts in one locale.
type selfMessages struct {
	Title, Intro, Expires, Masked, Yours, Emails, Phones, LINE, App, NoneYet string
	Verified, Unverified, Broken, LINELinked                                 string
	Scope                                                                    map[anpi.ContactScope]string
	AddTitle, KindLabel, AddressLabel, AddressHelp, LabelLabel, AddButton    string
	Kinds                                                                    map[string]string
	Verify, AppNote, LINENote, LINEButton                                    string
	RegionsTitle, RegionsHelp, RegionsButton                                 string
	Added, RegionsSaved                                                      string
	BadKind, BadLabel, NoAddress, BadEmail, BadPhone, Duplicate, Limit       string
	NoRegions, BadRegion, TooManyRegions                                     string
}

// selfMsgs returns the registration page's texts in locale l.
func selfMsgs(l anpi.Locale) *selfMessages {
	if l == anpi.English {
		return &selfMessages{
			Title:        "Your contacts for safety confirmation",
			Intro:        "After an earthquake, the safety confirmation is sent to these contacts. Register a private email or phone number so that it reaches you even when the company's mail does not.",
			Expires:      "This link works until",
			Masked:       "Addresses are partly hidden: this link may have passed through other hands.",
			Yours:        "Your contacts",
			Emails:       "Email",
			Phones:       "Phone",
			LINE:         "LINE",
			App:          "App",
			NoneYet:      "none yet",
			Verified:     "verified",
			Unverified:   "not yet verified",
			Broken:       "not working",
			LINELinked:   "LINE account",
			Scope:        map[anpi.ContactScope]string{anpi.WorkScope: "work", anpi.PrivateScope: "private", anpi.FamilyScope: "family"},
			AddTitle:     "Add a contact",
			KindLabel:    "Kind",
			AddressLabel: "Email address or phone number",
			AddressHelp:  "Phone numbers like 090-1234-5678 or +819012345678.",
			LabelLabel:   "Label (optional, e.g. “wife”, “home”)",
			AddButton:    "Add",
			Kinds: map[string]string{"email": "My private email", "phone": "My phone number",
				"family-email": "A family member's email", "family-phone": "A family member's phone number"},
			Verify:         "A new contact is not yet verified: a message with a confirmation link is on its way to it (a family member's contact is not asked). Open the link within 7 days to verify the contact.",
			AppNote:        "The safety confirmation app registers itself: sign in to the app on your phone and it appears here. There is nothing to type.",
			LINENote:       "LINE is linked from the company's LINE official account, not from this page.",
			LINEButton:     "Link my LINE account",
			RegionsTitle:   "Your regions",
			RegionsHelp:    "The areas you live or work in, one per line, as kind:code with the JMA area code, e.g. quake:222 (宮城県中部). An earthquake in these areas sends you the safety confirmation.",
			RegionsButton:  "Save regions",
			Added:          "The contact was added. It is not yet verified.",
			RegionsSaved:   "Your regions were saved.",
			BadKind:        "Kind: please choose what you are adding.",
			BadLabel:       fmt.Sprintf("Label: at most %d characters.", anpi.MaxContactLabel),
			NoAddress:      "Address: please enter an email address or a phone number.",
			BadEmail:       "Email address: this is not a valid email address.",
			BadPhone:       "Phone number: please enter a number like 090-1234-5678 or +819012345678.",
			Duplicate:      "Address: this contact is already registered.",
			Limit:          fmt.Sprintf("You already have as many contacts of this kind as allowed (private emails: %d, phone: %d, family: %d).", anpi.MaxPrivateEmails, anpi.MaxPrivatePerKind, anpi.MaxFamilyContacts),
			NoRegions:      "Your company's settings do not let you change your regions. Please ask your administrator.",
			BadRegion:      "Regions: not a region (want kind:code, e.g. quake:222):",
			TooManyRegions: fmt.Sprintf("Regions: at most %d.", anpi.MaxRegions),
		}
	}
	return &selfMessages{
		Title:        "安否確認の連絡先",
		Intro:        "地震のあと、安否確認はこれらの連絡先に届きます。会社のメールが使えないときにも届くよう、個人のメールアドレスや電話番号を登録してください。",
		Expires:      "このリンクの有効期限",
		Masked:       "このリンクは他の人の手を経ている場合があるため、アドレスは一部を伏せて表示しています。",
		Yours:        "登録済みの連絡先",
		Emails:       "メール",
		Phones:       "電話",
		LINE:         "LINE",
		App:          "アプリ",
		NoneYet:      "未登録",
		Verified:     "確認済み",
		Unverified:   "未確認",
		Broken:       "届きません",
		LINELinked:   "LINEアカウント",
		Scope:        map[anpi.ContactScope]string{anpi.WorkScope: "会社", anpi.PrivateScope: "個人", anpi.FamilyScope: "家族"},
		AddTitle:     "連絡先を追加する",
		KindLabel:    "種類",
		AddressLabel: "メールアドレスまたは電話番号",
		AddressHelp:  "電話番号は 090-1234-5678 または +819012345678 の形式で入力してください。",
		LabelLabel:   "メモ（任意。例：「妻」「自宅」）",
		AddButton:    "追加する",
		Kinds: map[string]string{"email": "個人のメールアドレス", "phone": "自分の電話番号",
			"family-email": "家族のメールアドレス", "family-phone": "家族の電話番号"},
		Verify:         "追加した連絡先は「未確認」です。その連絡先に確認用のリンクを送りました（家族の連絡先には送りません）。7日以内にリンクを開いて確認してください。",
		AppNote:        "安否確認アプリは自動で登録されます。スマートフォンでアプリにログインすると、ここに表示されます。入力は不要です。",
		LINENote:       "LINEは会社のLINE公式アカウントから連携します（このページでは登録できません）。",
		LINEButton:     "LINEアカウントを連携する",
		RegionsTitle:   "所属地域",
		RegionsHelp:    "住んでいる・働いている地域を1行に1つ、種類:気象庁の地域コード の形式で入力してください（例：quake:222 は宮城県中部）。これらの地域で地震があると安否確認が届きます。",
		RegionsButton:  "地域を保存する",
		Added:          "連絡先を追加しました（未確認）。",
		RegionsSaved:   "所属地域を保存しました。",
		BadKind:        "種類：追加する連絡先の種類を選んでください。",
		BadLabel:       fmt.Sprintf("メモ：%d文字以内で入力してください。", anpi.MaxContactLabel),
		NoAddress:      "アドレス：メールアドレスまたは電話番号を入力してください。",
		BadEmail:       "メールアドレス：正しいメールアドレスではありません。",
		BadPhone:       "電話番号：090-1234-5678 または +819012345678 の形式で入力してください。",
		Duplicate:      "アドレス：この連絡先はすでに登録されています。",
		Limit:          fmt.Sprintf("この種類の連絡先は上限まで登録済みです（個人のメール%d件、電話%d件、家族%d件まで）。", anpi.MaxPrivateEmails, anpi.MaxPrivatePerKind, anpi.MaxFamilyContacts),
		NoRegions:      "会社の設定により、所属地域は変更できません。管理者にお問い合わせください。",
		BadRegion:      "所属地域：地域の形式ではありません（例：quake:222）：",
		TooManyRegions: fmt.Sprintf("所属地域：%d件までです。", anpi.MaxRegions),
	}
}

// selfTemplate renders the registration page (/r/{token}); it shares the
// answer pages' style, so the one hash in the Content-Security-Policy
// covers it.
const selfTemplate = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.S.Title}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
<nav><a href="{{.Other}}" hreflang="{{if eq .Lang "ja"}}en{{else}}ja{{end}}">{{.OtherL}}</a></nav>
<h1>{{.S.Title}}</h1>
<p>{{.M.Hello}}: {{.Name}}</p>
<p>{{.S.Intro}}</p>
{{- if .Done}}
<p class="done" role="status">{{.Done}}</p>
{{- end}}
{{- if .Error}}
<p class="err" role="alert">{{.Error}}</p>
{{- end}}
<h2>{{.S.Yours}}</h2>
<p class="note">{{.S.Masked}}</p>
<dl>
{{- range .Lists}}
<dt>{{.Title}}</dt>
{{- range .Contacts}}
<dd>{{.Masked}}{{if .Label}} ({{.Label}}){{end}} · {{.Scope}} · <span class="{{.Class}}">{{.Status}}</span></dd>
{{- else}}
<dd>{{.None}}</dd>
{{- end}}
{{- end}}
</dl>
<p class="note">{{.S.AppNote}}</p>
{{- if .LINEAction}}
<form method="post" action="{{.LINEAction}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit">{{.S.LINEButton}}</button>
</form>
{{- else}}
<p class="note">{{.S.LINENote}}</p>
{{- end}}
<h2>{{.S.AddTitle}}</h2>
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>{{.S.KindLabel}}
<select name="kind">
{{- range .Kinds}}
<option value="{{.Code}}"{{if .Checked}} selected{{end}}>{{.Label}}</option>
{{- end}}
</select></label>
<label>{{.S.AddressLabel}}
<input name="address" maxlength="512" autocomplete="off" required></label>
<p class="note">{{.S.AddressHelp}}</p>
<label>{{.S.LabelLabel}}
<input name="label" maxlength="40" value="{{.Label}}"></label>
<p>{{.S.Verify}}</p>
<button type="submit">{{.S.AddButton}}</button>
</form>
{{- if .MayEditRegions}}
<h2>{{.S.RegionsTitle}}</h2>
<form method="post" action="{{.RegionsAction}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>{{.S.RegionsHelp}}
<textarea name="regions">{{.Regions}}</textarea></label>
<button type="submit">{{.S.RegionsButton}}</button>
</form>
{{- end}}
<p class="note">{{.S.Expires}}: {{.Expires}}</p>
</body>
</html>
`
