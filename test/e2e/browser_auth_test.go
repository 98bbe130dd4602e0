//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rowJS is a JavaScript expression for the page's row of a task.
func rowJS(id string) string {
	return fmt.Sprintf(`document.querySelector('tr.task[data-task-id="%s"]')`, id)
}

const pageStateJS = `"auth=" + document.getElementById("auth").dataset.auth + " " + document.getElementById("auth").textContent +
 " | conn=" + document.getElementById("conn").dataset.state + " " + document.getElementById("conn").textContent +
 " | notice=" + document.getElementById("notice").textContent +
 " | rows=" + Array.from(document.querySelectorAll("tr.task")).map(function(r){return r.dataset.taskId + ":" + r.dataset.displayState}).join(",")`

func signIn(b *Browser, token string) {
	b.Eval(fmt.Sprintf(`(function(){document.getElementById("token").value=%q;document.getElementById("signin").click();return true})()`, token), nil)
}

func click(b *Browser, id, action string) {
	b.t.Helper()
	var ok bool
	b.Eval(fmt.Sprintf(`(function(){var e=document.querySelector('tr.task[data-task-id="%s"] button[data-action="%s"]');if(!e||e.disabled)return false;e.click();return true})()`, id, action), &ok)
	require.True(b.t, ok, "no enabled %s button on task %s", action, id)
}

func buttonDisabled(b *Browser, id, action string) bool {
	var disabled bool
	b.Eval(fmt.Sprintf(`(function(){var e=document.querySelector('tr.task[data-task-id="%s"] button[data-action="%s"]');return !e||e.disabled})()`, id, action), &disabled)
	return disabled
}

// TestStatusPageSignInPauseResumeDelete drives the page in real headless
// Chromium against a daemon with an admin and a read token: the page asks
// for a token, refuses a wrong one, shows the task read-only with the read
// token, and with the admin token pauses it (the page and the API say
// Paused), resumes it (Running), keeps the token across a reload of the tab,
// and deletes it after a confirmation.
func TestStatusPageSignInPauseResumeDelete(t *testing.T) {
	chromium := requireChromium(t)
	bed := RequireBed(t)
	d := StartDaemon(t, bed, authEnv())
	coll := UniqueName("e2e_page")
	id := d.createRESTTask(t, e2eAdminToken, coll, "")

	b := StartBrowser(t, chromium)
	b.Navigate("http://" + d.addr + "/?interval=1")
	b.WaitFor("the sign-in form", `!document.getElementById("login").hidden && document.getElementById("auth").dataset.auth === "required" && document.getElementById("conn").dataset.state === "auth"`, pageStateJS, 20*time.Second)
	require.Equal(t, "API token required", b.Text("#auth"))
	var rows int
	b.Eval(`document.querySelectorAll("tr.task").length`, &rows)
	require.Zero(t, rows, "no task is shown without a token")

	signIn(b, "not-a-token-of-this-daemon")
	b.WaitFor("the wrong token refused", `document.getElementById("auth").textContent === "API token rejected"`, pageStateJS, 10*time.Second)

	signIn(b, e2eReadToken)
	b.WaitFor("the task with the read token", rowJS(id)+` && `+rowJS(id)+`.dataset.displayState === "Running"`, pageStateJS, 20*time.Second)
	require.Equal(t, "signed in as viewer (read)", b.Text("#auth"))
	require.True(t, buttonDisabled(b, id, "pause"), "a read token cannot pause")
	require.True(t, buttonDisabled(b, id, "delete"), "a read token cannot delete")
	require.Equal(t, "default."+coll, b.Text(`tr.task[data-task-id="`+id+`"] td.scope`), "the scope column")
	require.Contains(t, b.Text("#source"), "source: "+bed.MQType, "the header names the source")
	require.Contains(t, b.Text("#version"), "version ")
	require.Regexp(t, `updated \d\d:\d\d:\d\d [A-Z]{3}`, b.Text("#conn"), "the time carries its zone")

	b.Eval(`document.getElementById("signout").click()`, nil)
	b.WaitFor("signed out", `document.getElementById("auth").dataset.auth === "required"`, pageStateJS, 10*time.Second)
	signIn(b, e2eAdminToken)
	b.WaitFor("signed in as admin", `document.getElementById("auth").textContent === "signed in as ops (admin)" && `+rowJS(id)+` !== null`, pageStateJS, 20*time.Second)

	// Pause from the page: the page shows Paused, and so does the API.
	b.WaitFor("an enabled pause button", `!document.querySelector('tr.task[data-task-id="`+id+`"] button[data-action="pause"]').disabled`, pageStateJS, 10*time.Second)
	click(b, id, "pause")
	b.WaitFor("the task Paused on the page", rowJS(id)+`.dataset.displayState === "Paused"`, pageStateJS, 20*time.Second)
	_, state, reason := d.restState(t, e2eAdminToken, id)
	require.Equal(t, "Paused", state)
	require.Contains(t, reason, "manually pause")
	require.Contains(t, b.Text("#notice"), "Task "+id+" paused at ")

	// Resume from the page: Running again, on the page and in the API.
	click(b, id, "resume")
	b.WaitFor("the task Running on the page", rowJS(id)+`.dataset.displayState === "Running"`, pageStateJS, 30*time.Second)
	_, state, _ = d.restState(t, e2eAdminToken, id)
	require.Equal(t, "Running", state)

	// The token lives in the tab's sessionStorage: a reload stays signed in.
	var stored string
	b.Eval(`sessionStorage.getItem("milvus-cdc.token")`, &stored)
	require.Equal(t, e2eAdminToken, stored)
	var inLocal bool
	b.Eval(`Object.keys(localStorage).some(function(k){return localStorage.getItem(k).indexOf("`+e2eAdminToken+`")>=0})`, &inLocal)
	require.False(t, inLocal, "the token is not kept beyond the tab")
	b.Call("Page.reload", nil)
	b.WaitFor("still signed in after a reload", `document.getElementById("auth").textContent === "signed in as ops (admin)" && `+rowJS(id)+` !== null`, pageStateJS, 20*time.Second)

	// Delete asks first; cancel keeps the task, confirm deletes it.
	click(b, id, "delete")
	b.WaitFor("the confirmation", `document.querySelector('tr.task[data-task-id="`+id+`"] button[data-action="confirm-delete"]') !== null`, pageStateJS, 10*time.Second)
	click(b, id, "cancel-delete")
	b.WaitFor("the delete button back", `document.querySelector('tr.task[data-task-id="`+id+`"] button[data-action="delete"]') !== null`, pageStateJS, 10*time.Second)
	status, _, _ := d.restState(t, e2eAdminToken, id)
	require.Equal(t, http.StatusOK, status, "cancel deleted nothing")
	click(b, id, "delete")
	b.WaitFor("the confirmation", `document.querySelector('tr.task[data-task-id="`+id+`"] button[data-action="confirm-delete"]') !== null`, pageStateJS, 10*time.Second)
	click(b, id, "confirm-delete")
	b.WaitFor("the task gone from the page", rowJS(id)+` === null`, pageStateJS, 20*time.Second)
	status, _, _ = d.restState(t, e2eAdminToken, id)
	require.Equal(t, http.StatusNotFound, status, "the API no longer has the task")

	// The audit log names the page's calls with the admin token's name.
	var pageCalls []string
	for _, l := range d.auditLines(t) {
		if l.TaskID == id && l.Who == "ops" {
			pageCalls = append(pageCalls, l.Method+" "+l.Route)
		}
	}
	require.Subset(t, pageCalls, []string{"POST /api/v1/tasks/{id}/pause", "POST /api/v1/tasks/{id}/resume", "DELETE /api/v1/tasks/{id}"})
}

// TestStatusPageWithoutAuthSaysSo: a daemon without tokens serves the page
// with the warning, and its buttons work without signing in.
func TestStatusPageWithoutAuthSaysSo(t *testing.T) {
	chromium := requireChromium(t)
	bed := RequireBed(t)
	d := StartDaemon(t, bed)
	id := d.createRESTTask(t, "", UniqueName("e2e_open"), "")
	b := StartBrowser(t, chromium)
	b.Navigate("http://" + d.addr + "/?interval=1")
	b.WaitFor("the warning", `document.getElementById("auth").dataset.auth === "off" && `+rowJS(id)+` !== null`, pageStateJS, 20*time.Second)
	require.Equal(t, "API authentication is off", b.Text("#auth"))
	var loginHidden bool
	b.Eval(`document.getElementById("login").hidden`, &loginHidden)
	require.True(t, loginHidden, "nothing to sign in to")
	click(b, id, "pause")
	b.WaitFor("Paused", rowJS(id)+`.dataset.displayState === "Paused"`, pageStateJS, 20*time.Second)
	_, state, _ := d.restState(t, "", id)
	require.Equal(t, "Paused", state)
}

// TestStatusPageLagThresholdAndRetryingSummary feeds the page a scripted
// API: the lag highlight follows the configured threshold (URL, then the
// input, kept across reloads) instead of a fixed minute, and the summary
// counts a retrying task apart from the running ones.
func TestStatusPageLagThresholdAndRetryingSummary(t *testing.T) {
	chromium := requireChromium(t)
	var polls atomic.Int64
	url := servePage(t, func(w http.ResponseWriter, _ *http.Request) {
		polls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"tasks":[
 {"id":"slow","state":"Running","scope":[{"database":"db1","collection":"*"}],"target":{"uri":"http://dst:19530"},"pipeline":{"state":"running","lagSeconds":45}},
 {"id":"flaky","state":"Running","scope":[{"database":"*","collection":"*"}],"target":{"uri":"http://dst:19530"},"pipeline":{"state":"retrying","lagSeconds":5}},
 {"id":"fine","state":"Running","scope":[{"database":"db2","collection":"c"}],"target":{"uri":"http://dst:19530"},"pipeline":{"state":"running","lagSeconds":1}}
]}`)
	})
	b := StartBrowser(t, chromium)
	lagHigh := func(id string) bool {
		var high bool
		b.Eval(fmt.Sprintf(`document.querySelector('tr.task[data-task-id="%s"] td.lag').classList.contains("lag-high")`, id), &high)
		return high
	}
	b.Navigate(url + "?interval=1")
	b.WaitFor("the tasks", rowJS("slow")+` !== null`, pageStateJS, 20*time.Second)
	require.False(t, lagHigh("slow"), "45 s is under the default 60 s")
	require.Equal(t, "3 tasks (1 Retrying, 2 Running)", b.Text("#summary"))
	require.Equal(t, "db1.*", b.Text(`tr.task[data-task-id="slow"] td.scope`))
	require.Equal(t, "*.*", b.Text(`tr.task[data-task-id="flaky"] td.scope`))
	require.Equal(t, "", b.Text("#auth"), "no info endpoint: no claim about authentication")

	b.Navigate(url + "?interval=1&lagWarn=30")
	b.WaitFor("the tasks", rowJS("slow")+` !== null`, pageStateJS, 20*time.Second)
	require.True(t, lagHigh("slow"), "45 s is over ?lagWarn=30")
	require.False(t, lagHigh("flaky"))

	b.Eval(`(function(){var i=document.getElementById("lag-warn");i.value="2";i.dispatchEvent(new Event("change"));return true})()`, nil)
	require.True(t, lagHigh("flaky"), "5 s is over the threshold typed in")
	require.False(t, lagHigh("fine"))
	b.Navigate(url + "?interval=1")
	b.WaitFor("the tasks", rowJS("fine")+` !== null`, pageStateJS, 20*time.Second)
	var v string
	b.Eval(`document.getElementById("lag-warn").value`, &v)
	require.Equal(t, "2", v, "the threshold is kept in the browser")
	require.True(t, lagHigh("flaky"))
	require.True(t, strings.Contains(b.Text("#conn"), "updated "), b.Text("#conn"))
}
