package web

import (
	"fmt"
	"html/template"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// adminMessages are the administrator pages' fixed texts in one locale.
type adminMessages struct {
	LangName, Other, OtherName                                                 string
	Home, Send, Feed, Rules, Contacts, Logout, Login, Email, Password          string
	Surveys, Title, Kind, Status, Started, Rate, NoSurveys, Drill, Test        string
	Answered, Targets, Answers, Chart, ByDept, ByDeptNote, ByRegion, Dept      string
	Region, Times, Q1, Median, Q3, Unanswered, None, Export, Refreshing        string
	FollowUp, FollowUpTo, ToUnanswered, ToChose, Message, Start                string
	Targeting, Everyone, Depts, Subtree, Regions, RegionsHint, Users           string
	UsersHint, TestFirst, TestNote, Template, TemplateHint, StartedText        string
	FeedNote, Upload, Document, Outcome, Rule, Action, Survey, Asked           string
	Queued, NoContact, Note, Decisions, Enabled, Version, Updated              string
	Simulate, Area, AreaHint, Pref, Intensity, WouldAsk, OutOfScope            string
	Name, ContactKinds, NoPrivate, Verified, Failed, Broken, Registered        string
	Unverified, ShownBy                                                        string
	Legacy, LegacyHint, Occurrence, StatusNote, InstructionNote, Place, Sender string
	NotFound, Denied, Invalid, Internal, Unavailable, Forbidden                string
	BadRequest, LoggedOut, LoginFailed, TooMany, TooLarge, Kinds               string
	SignInWith, OIDCFailed                                                     string
	Drafts, SaveDraft, NoDrafts, EditDraft, DeleteDraft, TestToMe, CreatedBy   string
	Created                                                                    string
	KindNames                                                                  map[anpi.SurveyKind]string
	StatusNames                                                                map[anpi.SurveyStatus]string
	ScopeNames                                                                 map[anpi.ContactScope]string
	ContactNames                                                               map[anpi.ContactKind]string
}

// msgsAdmin returns the administrator pages' texts in locale l.
func msgsAdmin(l anpi.Locale) *adminMessages {
	if l == anpi.English {
		return &adminMessages{
			LangName: "English", Other: "ja", OtherName: "日本語",
			Home: "Surveys", Send: "Send", Feed: "JMA document", Rules: "Rules", Contacts: "Contacts", Logout: "Log out",
			Login: "Log in", Email: "Email", Password: "Password",
			Surveys: "Surveys", Title: "Title", Kind: "Kind", Status: "Status", Started: "Started", Rate: "Response rate",
			NoSurveys: "No surveys yet.", Drill: "DRILL", Test: "TEST",
			Answered: "Answered", Targets: "Asked", Answers: "Answers", Chart: "Answers (chart)",
			ByDept: "By department", ByDeptNote: "each department counts its whole subtree", ByRegion: "By region", Dept: "Department",
			Region: "Region", Times: "Answer times (from the start)", Q1: "25 %", Median: "Median", Q3: "75 %",
			Unanswered: "Not answered yet", None: "None.", Export: "Download CSV", Refreshing: "This page refreshes every 5 seconds.",
			FollowUp: "Send a follow-up", FollowUpTo: "To", ToUnanswered: "those who have not answered", ToChose: "those who answered",
			Message: "Title of the follow-up", Start: "Send",
			Targeting: "Recipients", Everyone: "Everyone", Depts: "Departments", Subtree: "with their sub-departments",
			Regions: "Regions", RegionsHint: "e.g. quake:350 quake:351 (space-separated)", Users: "Users", UsersHint: "user IDs, space-separated",
			TestFirst: "Test send to me first", TestNote: "only you receive it, labelled as a test", Template: "Template",
			TemplateHint: "template ID; empty for the default message", StartedText: "Started: %d asked, %d queued, %d without a contact.",
			FeedNote: "Upload a JMA XML document (e.g. VXSE53): the rules act on it as on the live feed. Drill documents only send where a rule allows drills.",
			Upload:   "Upload", Document: "Document (XML, at most 16 MiB)", Outcome: "Outcome", Rule: "Rule", Action: "Action", Survey: "Survey",
			Asked: "Newly asked", Queued: "Queued", NoContact: "No contact", Note: "Note", Decisions: "Decisions",
			Enabled: "Enabled", Version: "Version", Updated: "Updated",
			Simulate: "Simulate", Area: "Area code", AreaHint: "3-digit earthquake area, e.g. 350", Pref: "Prefecture code (optional)",
			Intensity: "Intensity", WouldAsk: "Would ask", OutOfScope: "outside your scope (not shown)",
			Name: "Name", ContactKinds: "Contacts", NoPrivate: "Users without a private contact", Verified: "verified", Failed: "failed",
			Broken: "broken", Registered: "registered", Unverified: "not verified", ShownBy: "Simulation only: nothing was sent or recorded.",
			NotFound: "Not found.", Denied: "You do not have the rights for this.", Invalid: "Please check the input.",
			Internal: "Something went wrong. Please try again.", Unavailable: "The service is busy. Please try again shortly.",
			Forbidden: "This form has expired. Please reload the page and try again.", BadRequest: "The form could not be read.",
			LoggedOut: "Your session has ended. Please log in again.", LoginFailed: "Wrong email or password.",
			TooMany: "Too many failed logins. Please wait and try again.", TooLarge: "The document is larger than 16 MiB.",
			Kinds:  "Kind",
			Drafts: "Drafts", SaveDraft: "Save as draft", NoDrafts: "No drafts.", EditDraft: "Edit", DeleteDraft: "Delete",
			TestToMe: "Test-send to me", CreatedBy: "By", Created: "Created",
			SignInWith: "Sign in with", OIDCFailed: "The sign-in did not succeed. Please try again, or log in with your password.",
			Legacy: "Message", LegacyHint: "Optional. With an occurrence and a sender, the message is laid out as in the legacy mail service instead of the template.",
			Occurrence: "Occurrence (e.g. Earthquake)", StatusNote: "Situation", InstructionNote: "Instruction", Place: "Place", Sender: "Sender",
			KindNames: map[anpi.SurveyKind]string{anpi.ManualSurvey: "manual", anpi.AutoSurvey: "automatic", anpi.TestSurvey: "test",
				anpi.DrillSurvey: "drill", anpi.ContactCheckSurvey: "contact check"},
			StatusNames: map[anpi.SurveyStatus]string{anpi.Draft: "draft", anpi.Held: "held", anpi.Open: "open", anpi.Closed: "closed",
				anpi.Cancelled: "cancelled"},
			ScopeNames: map[anpi.ContactScope]string{anpi.WorkScope: "work", anpi.PrivateScope: "private", anpi.FamilyScope: "family"},
			ContactNames: map[anpi.ContactKind]string{anpi.EmailContact: "Email", anpi.PhoneContact: "Phone", anpi.LINEContact: "LINE",
				anpi.FCMContact: "App (FCM)", anpi.APNsContact: "App (APNs)"},
		}
	}
	return &adminMessages{
		LangName: "日本語", Other: "en", OtherName: "English",
		Home: "安否確認一覧", Send: "手動送信", Feed: "気象庁電文", Rules: "自動送信ルール", Contacts: "連絡網", Logout: "ログアウト",
		Login: "ログイン", Email: "メールアドレス", Password: "パスワード",
		Surveys: "安否確認", Title: "件名", Kind: "種別", Status: "状態", Started: "開始", Rate: "回答率",
		NoSurveys: "まだありません。", Drill: "訓練", Test: "テスト",
		Answered: "回答済", Targets: "対象", Answers: "回答", Chart: "回答（グラフ）",
		ByDept: "部署別", ByDeptNote: "各部署は配下の部署を含めて数えます", ByRegion: "地域別", Dept: "部署",
		Region: "地域", Times: "回答までの時間（開始から）", Q1: "25%", Median: "中央値", Q3: "75%",
		Unanswered: "未回答者", None: "いません。", Export: "CSVをダウンロード", Refreshing: "このページは5秒ごとに更新されます。",
		FollowUp: "追加の送信", FollowUpTo: "宛先", ToUnanswered: "未回答の人", ToChose: "次の回答をした人",
		Message: "件名", Start: "送信する",
		Targeting: "宛先", Everyone: "全員", Depts: "部署", Subtree: "配下の部署を含める",
		Regions: "地域", RegionsHint: "例: quake:350 quake:351（空白区切り）", Users: "利用者", UsersHint: "利用者ID（空白区切り）",
		TestFirst: "まず自分にテスト送信する", TestNote: "自分だけに「テスト」と表示して送ります", Template: "テンプレート",
		TemplateHint: "テンプレートID（空欄で標準の文面）", StartedText: "送信しました：対象 %d 人、送信予定 %d 件、連絡先なし %d 人。",
		FeedNote: "気象庁のXML電文（VXSE53など）をアップロードすると、受信した電文と同じようにルールが判定します。訓練電文は訓練を許可したルールでのみ送信されます。",
		Upload:   "アップロード", Document: "電文（XML、16MiBまで）", Outcome: "結果", Rule: "ルール", Action: "動作", Survey: "安否確認",
		Asked: "新たな対象", Queued: "送信予定", NoContact: "連絡先なし", Note: "備考", Decisions: "判定",
		Enabled: "有効", Version: "版", Updated: "更新",
		Simulate: "シミュレーション", Area: "地域コード", AreaHint: "地震の細分区域（3桁）、例: 350", Pref: "都道府県コード（任意）",
		Intensity: "震度", WouldAsk: "送信対象", OutOfScope: "権限外（表示しません）",
		Name: "氏名", ContactKinds: "連絡先", NoPrivate: "私用の連絡先がない利用者", Verified: "確認済", Failed: "失敗",
		Broken: "無効", Registered: "登録済", Unverified: "未確認", ShownBy: "シミュレーションです。送信も記録もしていません。",
		NotFound: "見つかりません。", Denied: "この操作の権限がありません。", Invalid: "入力を確認してください。",
		Internal: "エラーが発生しました。もう一度お試しください。", Unavailable: "混み合っています。しばらくしてからお試しください。",
		Forbidden: "このフォームは無効です。ページを読み込み直してからお試しください。", BadRequest: "フォームを読み取れませんでした。",
		LoggedOut: "ログインの有効期限が切れました。もう一度ログインしてください。", LoginFailed: "メールアドレスまたはパスワードが違います。",
		TooMany: "ログインの失敗が多すぎます。しばらく待ってからお試しください。", TooLarge: "電文が16MiBを超えています。",
		Kinds:  "種別",
		Drafts: "下書き", SaveDraft: "下書き保存", NoDrafts: "下書きはありません。", EditDraft: "編集", DeleteDraft: "削除",
		TestToMe: "自分にテスト送信", CreatedBy: "作成者", Created: "作成日時",
		SignInWith: "次でサインイン:", OIDCFailed: "サインインできませんでした。もう一度お試しいただくか、パスワードでログインしてください。",
		Legacy: "本文", LegacyHint: "任意。発生区分と発信者を入れると、テンプレートの代わりに従来の連絡メールの形式で送ります。",
		Occurrence: "発生区分（例: 地震発生）", StatusNote: "状況", InstructionNote: "指示", Place: "場所", Sender: "発信者",
		KindNames: map[anpi.SurveyKind]string{anpi.ManualSurvey: "手動", anpi.AutoSurvey: "自動", anpi.TestSurvey: "テスト",
			anpi.DrillSurvey: "訓練", anpi.ContactCheckSurvey: "連絡先確認"},
		StatusNames: map[anpi.SurveyStatus]string{anpi.Draft: "下書き", anpi.Held: "保留中", anpi.Open: "受付中", anpi.Closed: "終了",
			anpi.Cancelled: "取消"},
		ScopeNames: map[anpi.ContactScope]string{anpi.WorkScope: "業務", anpi.PrivateScope: "私用", anpi.FamilyScope: "家族"},
		ContactNames: map[anpi.ContactKind]string{anpi.EmailContact: "メール", anpi.PhoneContact: "電話", anpi.LINEContact: "LINE",
			anpi.FCMContact: "アプリ (FCM)", anpi.APNsContact: "アプリ (APNs)"},
	}
}

// adminFuncs returns the template's helpers.
func adminFuncs() template.FuncMap {
	return template.FuncMap{
		"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"dur": func(d time.Duration) string { return d.Round(time.Second).String() },
		"jst": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(japan()).Format("2006-01-02 15:04")
		},
	}
}

// japan is Japan time: the pages show times as the administrators live
// them (DESIGN §4: store UTC, display in Asia/Tokyo, which keeps no DST).
func japan() *time.Location { return time.FixedZone("JST", 9*3600) }

// adminCSS is the pages' only style, inline and allowed by its hash in the
// Content-Security-Policy. Tables scroll sideways on a phone.
const adminCSS = `body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:60rem;line-height:1.5}` +
	`nav a{margin-right:1rem;white-space:nowrap}nav form{display:inline}h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:1.5rem}` +
	`.scroll{overflow-x:auto}table{border-collapse:collapse}th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}` +
	`td.n{text-align:right}label{display:block;padding:.3rem 0}input[type=text],input[type=email],input[type=password]{width:100%;max-width:30rem;font-size:1rem}` +
	`button{font-size:1rem;padding:.5rem 1.5rem}.err{color:#b00;font-weight:bold}.drill{color:#b00}.ok{color:#060}.muted{color:#666}` +
	`fieldset{border:1px solid #ccc;border-radius:.5rem;margin:0 0 1rem}svg{max-width:100%;height:auto}` +
	`a.idp{display:inline-block;border:1px solid #888;border-radius:.3rem;padding:.4rem 1rem;margin:.3rem}`

// adminPage is what the template shows; one template renders every page.
type adminPage struct {
	Lang    anpi.Locale
	M       *adminMessages
	Root    string
	User    anpi.UserID
	CSRF    string
	Message string
	Error   string
	Refresh bool
	Login   bool
	OIDC    []string // the login page's sign-in buttons: provider names
	Notice  string

	Surveys   []surveyRow
	List      bool
	Survey    *surveyView
	Send      *sendView
	Drafts    []*anpi.Survey
	DraftList bool
	Feed      *feedView
	Rules     *rulesView
	Contacts  *contactsView
}

// adminTemplate renders every administrator page.
const adminTemplate = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
{{- if .Refresh}}
<meta http-equiv="refresh" content="5">
{{- end}}
<title>AnpiKit</title>
<style>` + adminCSS + `</style>
</head>
<body>
<nav>
{{- if .User}}
<a href="{{.Root}}">{{.M.Home}}</a><a href="{{.Root}}send">{{.M.Send}}</a><a href="{{.Root}}drafts">{{.M.Drafts}}</a><a href="{{.Root}}feed">{{.M.Feed}}</a><a href="{{.Root}}rules">{{.M.Rules}}</a><a href="{{.Root}}contacts">{{.M.Contacts}}</a>
<form method="post" action="{{.Root}}logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">{{.M.Logout}}</button></form>
{{- end}}
<a href="?lang={{.M.Other}}" hreflang="{{.M.Other}}">{{.M.OtherName}}</a>
</nav>
{{- if .Message}}
<p>{{.Message}}</p>
{{- if not .User}}<p><a href="{{.Root}}">{{.M.Home}}</a></p>{{end}}
{{- end}}
{{- if .Error}}
<p class="err" role="alert">{{.Error}}</p>
{{- end}}
{{- if .Notice}}
<p class="ok" role="status">{{.Notice}}</p>
{{- end}}

{{- if .Login}}
<h1>AnpiKit {{.M.Login}}</h1>
<form method="post" action="{{.Root}}login">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>{{.M.Email}} <input type="email" name="email" autocomplete="username" required></label>
<label>{{.M.Password}} <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">{{.M.Login}}</button>
</form>
{{- if .OIDC}}
<p>{{.M.SignInWith}}{{range .OIDC}} <a class="idp" href="{{$.Root}}oidc/{{.}}/start">{{.}}</a>{{end}}</p>
{{- end}}
{{- end}}

{{- if .List}}
<h1>{{.M.Surveys}}</h1>
{{- if .Surveys}}
<div class="scroll"><table>
<tr><th>{{.M.Title}}</th><th>{{.M.Kind}}</th><th>{{.M.Status}}</th><th>{{.M.Started}}</th><th>{{.M.Rate}}</th></tr>
{{- range .Surveys}}
<tr><td><a href="{{$.Root}}surveys/{{.Survey.ID}}">{{if eq .Survey.Kind "drill"}}<span class="drill">[{{$.M.Drill}}]</span> {{end}}{{.Survey.Title}}</a>{{if .ScopeName}} <span class="muted">({{.ScopeName}})</span>{{end}}</td>
<td>{{index $.M.KindNames .Survey.Kind}}</td><td>{{index $.M.StatusNames .Survey.Status}}</td><td>{{jst .Survey.StartedAt}}</td><td class="n">{{pct .ResponseRate}} ({{.Answered}}/{{.Targets}})</td></tr>
{{- end}}
</table></div>
{{- else}}
<p>{{.M.NoSurveys}}</p>
{{- end}}
{{- end}}

{{- with .Survey}}
<h1>{{if .Drill}}<span class="drill">[{{$.M.Drill}}]</span> {{end}}{{if .Test}}<span class="drill">[{{$.M.Test}}]</span> {{end}}{{.Title}}</h1>
{{- if .Event}}<p>{{.Event}}</p>{{end}}
<p>{{index $.M.KindNames .Kind}} · {{index $.M.StatusNames .Status}} · {{$.M.Started}} {{jst .Started}}{{if .Scope}} · {{$.M.Dept}}: {{.ScopeName}}{{end}}</p>
<p class="muted">{{$.M.Refreshing}}</p>
<p><strong>{{$.M.Rate}}: {{pct .Rate}}</strong> ({{$.M.Answered}} {{.Answered}} / {{$.M.Targets}} {{.Targets}})</p>
<p><a href="{{.ID}}/export.csv{{.Query}}">{{$.M.Export}}</a></p>
{{- range .Questions}}
<h2>{{.Label}}</h2>
<div class="scroll"><table>
{{- range .Rows}}<tr><td>{{.Label}}</td><td class="n">{{.Count}}</td></tr>{{end}}
</table></div>
{{.Chart}}
{{- end}}
<h2>{{$.M.Times}}</h2>
<p>{{$.M.Q1}}: {{dur .Times.Q1}} · {{$.M.Median}}: {{dur .Times.Median}} · {{$.M.Q3}}: {{dur .Times.Q3}}</p>
<h2>{{$.M.ByDept}}</h2>
<p class="muted">{{$.M.ByDeptNote}}</p>
<div class="scroll"><table>
<tr><th>{{$.M.Dept}}</th><th>{{$.M.Targets}}</th><th>{{$.M.Answered}}</th><th>{{$.M.Rate}}</th></tr>
{{- range .Depts}}
<tr><td>{{.Indent}}{{.Name}}</td><td class="n">{{.Targets}}</td><td class="n">{{.Answered}}</td><td class="n">{{pct .Rate}}</td></tr>
{{- end}}
</table></div>
<h2>{{$.M.ByRegion}}</h2>
<div class="scroll"><table>
<tr><th>{{$.M.Region}}</th><th>{{$.M.Targets}}</th><th>{{$.M.Answered}}</th><th>{{$.M.Rate}}</th></tr>
{{- range .Regions}}
<tr><td>{{.Name}}</td><td class="n">{{.Targets}}</td><td class="n">{{.Answered}}</td><td class="n">{{pct .Rate}}</td></tr>
{{- end}}
</table></div>
<h2>{{$.M.Unanswered}} ({{.UnansweredTotal}})</h2>
{{- if .Unanswered}}
<div class="scroll"><table>
<tr><th>{{$.M.Name}}</th><th>{{$.M.Dept}}</th></tr>
{{- range .Unanswered}}<tr><td>{{.Name}}</td><td>{{.Depts}}</td></tr>{{end}}
</table></div>
{{- if gt .UnansweredTotal (len .Unanswered)}}<p class="muted">… <a href="{{.ID}}/export.csv?notanswered=1{{if .Scope}}&amp;department={{.Scope}}{{end}}">{{$.M.Export}}</a></p>{{end}}
{{- else}}
<p>{{$.M.None}}</p>
{{- end}}
<h2>{{$.M.FollowUp}}</h2>
<form method="post" action="{{.ID}}/followup">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<fieldset><legend>{{$.M.FollowUpTo}}</legend>
<label><input type="radio" name="to" value="unanswered" checked> {{$.M.ToUnanswered}}</label>
{{- range .Questions}}{{$q := .}}
{{- range .Rows}}
<label><input type="radio" name="to" value="chose:{{$q.ID}}:{{.Code}}"> {{$.M.ToChose}}: {{$q.Label}} = {{.Label}}</label>
{{- end}}
{{- end}}
</fieldset>
<label>{{$.M.Message}} <input type="text" name="title" value="{{.Title}}" required maxlength="200"></label>
<button type="submit">{{$.M.Start}}</button>
</form>
{{- end}}

{{- with .Send}}
<h1>{{$.M.Send}}</h1>
<form method="post" action="send">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
{{- if .Draft}}
<input type="hidden" name="draft_id" value="{{.Draft}}">
{{- end}}
<label>{{$.M.Title}} <input type="text" name="title" value="{{.Title}}" required maxlength="200"></label>
<label>{{$.M.Template}} <input type="text" name="template" value="{{.Template}}"> <span class="muted">{{$.M.TemplateHint}}</span></label>
<fieldset><legend>{{$.M.Legacy}}</legend>
<p class="muted">{{$.M.LegacyHint}}</p>
<label>{{$.M.Occurrence}} <input type="text" name="occurrence" value="{{.Occurrence}}" maxlength="40"></label>
<label>{{$.M.StatusNote}} <input type="text" name="status_note" value="{{.StatusNote}}" maxlength="80"></label>
<label>{{$.M.InstructionNote}} <input type="text" name="instruction_note" value="{{.InstructionNote}}" maxlength="60"></label>
<label>{{$.M.Place}} <input type="text" name="place" value="{{.Place}}" maxlength="20"></label>
<label>{{$.M.Sender}} <input type="text" name="sender" value="{{.Sender}}" maxlength="40"></label>
</fieldset>
<fieldset><legend>{{$.M.Targeting}}</legend>
<label><input type="checkbox" name="everyone" value="1"{{if .Everyone}} checked{{end}}> {{$.M.Everyone}}</label>
<p>{{$.M.Depts}}</p>
{{- range .Depts}}
<label>{{.Indent}}<input type="checkbox" name="dept" value="{{.ID}}"{{if .Checked}} checked{{end}}> {{.Name}}</label>
{{- end}}
<label><input type="checkbox" name="subtree" value="1"{{if .Subtree}} checked{{end}}> {{$.M.Subtree}}</label>
<label>{{$.M.Regions}} <input type="text" name="regions" value="{{.Regions}}"> <span class="muted">{{$.M.RegionsHint}}</span></label>
<label>{{$.M.Users}} <input type="text" name="users" value="{{.Users}}"> <span class="muted">{{$.M.UsersHint}}</span></label>
</fieldset>
<label><input type="checkbox" name="test" value="1"{{if .Test}} checked{{end}}> {{$.M.TestFirst}}</label>
<p class="muted">{{$.M.TestNote}}</p>
<button type="submit">{{$.M.Start}}</button>
<button type="submit" name="save" value="draft" formnovalidate>{{$.M.SaveDraft}}</button>
</form>
{{- end}}

{{- if .DraftList}}
<h1>{{$.M.Drafts}}</h1>
{{- if not .Drafts}}
<p>{{$.M.NoDrafts}}</p>
{{- else}}
<table>
<tr><th>{{$.M.Title}}</th><th>{{$.M.CreatedBy}}</th><th>{{$.M.Created}}</th><th></th></tr>
{{- range .Drafts}}
<tr><td>{{.Title}}</td><td>{{.CreatedBy}}</td><td>{{jst .CreatedAt}}</td><td>
<a href="send?draft={{.ID}}">{{$.M.EditDraft}}</a>
<form method="post" action="drafts/{{.ID}}/send"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="test" value="1"><button type="submit">{{$.M.TestToMe}}</button></form>
<form method="post" action="drafts/{{.ID}}/send"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">{{$.M.Start}}</button></form>
<form method="post" action="drafts/{{.ID}}/delete"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">{{$.M.DeleteDraft}}</button></form>
</td></tr>
{{- end}}
</table>
{{- end}}
{{- end}}

{{- with .Feed}}
<h1>{{$.M.Feed}}</h1>
<p>{{$.M.FeedNote}}</p>
<form method="post" action="feed" enctype="multipart/form-data">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<label>{{$.M.Document}} <input type="file" name="document" accept=".xml,application/xml,text/xml" required></label>
<button type="submit">{{$.M.Upload}}</button>
</form>
{{- if .Done}}
<h2>{{$.M.Outcome}}</h2>
<p>{{.Summary}}</p>
<div class="scroll"><table>
<tr><th>{{$.M.Rule}}</th><th>{{$.M.Action}}</th><th>{{$.M.Survey}}</th><th>{{$.M.Asked}}</th><th>{{$.M.Queued}}</th><th>{{$.M.NoContact}}</th><th>{{$.M.Note}}</th></tr>
{{- range .Effects}}
<tr><td>{{.Rule}}</td><td>{{.Action}}</td><td>{{if .Survey}}<a href="surveys/{{.Survey}}">{{.Survey}}</a>{{end}}</td><td class="n">{{.Recipients}}</td><td class="n">{{.Queued}}</td><td class="n">{{.NoContact}}</td><td>{{.Note}}</td></tr>
{{- end}}
</table></div>
<h2>{{$.M.Decisions}}</h2>
<ul>
{{- range .Decisions}}<li>{{.Rule}}: {{.Action}}{{if .Skip}} ({{.Skip}}){{end}} — {{.Reason}}</li>{{end}}
</ul>
{{- end}}
{{- end}}

{{- with .Rules}}
<h1>{{$.M.Rules}}</h1>
<div class="scroll"><table>
<tr><th>ID</th><th>{{$.M.Name}}</th><th>{{$.M.Enabled}}</th><th>{{$.M.Version}}</th><th>{{$.M.Updated}}</th></tr>
{{- range .Records}}
<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{if .Enabled}}✓{{end}}</td><td class="n">{{.Version}}</td><td>{{jst .UpdatedAt}}</td></tr>
{{- end}}
</table></div>
<h2>{{$.M.Simulate}}</h2>
<form method="post" action="{{$.Root}}rules/simulate">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<label>{{$.M.Area}} <input type="text" name="area" value="{{.Area}}" required pattern="[0-9]{3}" inputmode="numeric"> <span class="muted">{{$.M.AreaHint}}</span></label>
<label>{{$.M.Pref}} <input type="text" name="pref" value="{{.Pref}}" pattern="[0-9]{2}" inputmode="numeric"></label>
<label>{{$.M.Intensity}} <select name="intensity">
{{- range .Intensities}}<option value="{{.Code}}"{{if .Checked}} selected{{end}}>{{.Label}}</option>{{end}}
</select></label>
<button type="submit">{{$.M.Simulate}}</button>
</form>
{{- with .Result}}
<p class="muted">{{$.M.ShownBy}}</p>
<p><strong>{{$.M.WouldAsk}}: {{.Total}}</strong>{{if .OutOfScope}} ({{.OutOfScope}} {{$.M.OutOfScope}}){{end}}</p>
<ul>
{{- range .Decisions}}<li>{{.Rule}}: {{.Action}} ({{.Recipients}}) — {{.Reason}}</li>{{end}}
</ul>
<div class="scroll"><table>
<tr><th>{{$.M.Dept}}</th><th>{{$.M.Targets}}</th><th>{{$.M.Name}}</th></tr>
{{- range .Depts}}<tr><td>{{.Name}}</td><td class="n">{{.Count}}</td><td>{{.Names}}</td></tr>{{end}}
</table></div>
{{- end}}
{{- end}}

{{- with .Contacts}}
<h1>{{$.M.Contacts}}</h1>
<div class="scroll"><table>
<tr><th>{{$.M.Name}}</th><th>{{$.M.Dept}}</th>{{range .Kinds}}<th>{{index $.M.ContactNames .}}</th>{{end}}</tr>
{{- range .Rows}}
<tr><td>{{.Name}}</td><td>{{.Depts}}</td>{{range .Cells}}<td>{{range .}}<span class="{{.Class}}">{{.Text}}</span> {{end}}</td>{{end}}</tr>
{{- end}}
</table></div>
<h2>{{$.M.NoPrivate}} ({{len .NoPrivate}})</h2>
{{- if .NoPrivate}}
<ul>{{range .NoPrivate}}<li>{{.}}</li>{{end}}</ul>
{{- else}}
<p>{{$.M.None}}</p>
{{- end}}
{{- end}}
</body>
</html>
`
