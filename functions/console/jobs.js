// Mass messages and calling lists share their life: a preview computed (its progress followed), a
// confirmation now or at a time (or a cancel), a scheduled job moved or cancelled, then the job's
// progress per status until every message has left the queue. Both pages use this module.
import { api } from "./api.js";
import { $, clearProblems, el, formProblem, showError, toast } from "./dom.js";
import { formatMicros } from "./money.js";
import { formatInZone, isoToZonedInput, zonedInputToIso } from "./zoned.js";

const POLL_MS = 1000;
const EXCLUDED_REASONS = {
  not_opted_in: "not opted in", opted_out: "opted out", not_sms_capable: "not SMS-capable",
  three_a_day: "three on this subject in 24 hours",
};
export const STATUSES = ["Pending", "In Progress", "Sent", "Delivered", "Failed", "Insufficient funds"];
const timers = new Map();
const context = { timeZone: "UTC" };

const RUNNING = ["awaiting_upload", "validating", "previewing", "confirming", "starting"];
const FINISHED = ["queued", "cancelled", "stopped", "rejected"];
const WAITING = {
  awaiting_upload: "Waiting for the file",
  validating: "Reading and checking the file, row by row",
  previewing: "Computing the preview",
  confirming: "Checking the recipients and the text again before it goes",
  starting: "Its time came: checking the recipients again before it goes",
};

// Scheduled times are read and shown in the tenant's time zone (its settings), not the browser's.
export function useTimeZone(timeZone) {
  context.timeZone = timeZone || "UTC";
}

export function inZone(iso) {
  return formatInZone(iso, context.timeZone);
}

// What a job waiting for its preview is doing: its status and, once known, its segments and records.
export function waitingText(job) {
  const progress = job.preview_progress;
  const doing = WAITING[job.status] || job.status;
  if (!progress || job.status === "validating" || job.status === "awaiting_upload") return `${doing}…`;
  const segments = progress.segments === 1 ? "1 segment" : `${progress.segments.toLocaleString()} segments`;
  return `${doing}: ${progress.segments_done.toLocaleString()} of ${segments} done, `
    + `${progress.records_read.toLocaleString()} records read`;
}

// Show a waiting job in a panel (.wait-title, .progress-fill, .wait-text): null hides it.
export function showWaiting(panel, job) {
  if (!panel) return;
  panel.hidden = !job;
  if (!job) return;
  panel.dataset.status = job.status;
  panel.dataset.jobId = job.id;
  const progress = job.preview_progress;
  const share = progress && progress.segments && !["validating", "awaiting_upload"].includes(job.status)
    ? Math.round((100 * progress.segments_done) / progress.segments) : 0;
  panel.querySelector(".wait-title").textContent = `${job.name || job.saved_message}: ${job.status}`;
  panel.querySelector(".progress-fill").style.width = `${share}%`;
  panel.querySelector(".wait-text").textContent = waitingText(job);
}

// A large audience's preview (a file's validation, a confirmation's check) is computed after the
// answer: poll the job, showing its progress in `panel` while it runs.
export async function settled(kind, job, panel = null) {
  while (RUNNING.includes(job.status)) {
    showWaiting(panel, job);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await api("GET", `/v1/${kind}/${job.id}`);
  }
  showWaiting(panel, null);
  return job;
}

// kind: "mass-messages" or "calling-lists" (the API's path for the job).
export async function openConfirm(kind, job, onClosed, panel = null) {
  job = await settled(kind, job, panel);
  const preview = job.preview;
  if (!preview || job.status !== "previewed") {
    toast(`The ${kind === "calling-lists" ? "calling list" : "mass message"} is ${job.status}.`);
    return job;
  }
  const dialog = $("#confirm-dialog");
  dialog.dataset.kind = kind;
  dialog.dataset.jobId = job.id;
  dialog.dataset.token = job.confirmation_token;
  dialog.onClosed = onClosed;
  $("#confirm-title").textContent = kind === "calling-lists" ? "Send this calling list?" : "Send this mass message?";
  const people = preview.recipients === 1 ? "1 customer" : `${preview.recipients.toLocaleString()} customers`;
  $("#confirm-summary").textContent = `This message will be sent to ${people}.`;
  const parts = preview.segments_per_message === 1 ? "1 segment" : `${preview.segments_per_message} segments`;
  $("#confirm-charge").textContent = `Charges will occur: ${formatMicros(preview.total_micros)} `
    + `(${preview.recipients.toLocaleString()} × ${formatMicros(preview.price_per_message_micros)}, ${parts} each).`;
  const balance = $("#confirm-balance");
  if (preview.balance_micros === null) {
    balance.textContent = "";
  } else {
    balance.textContent = `Your balance of ${formatMicros(preview.balance_micros)} `
      + (preview.balance_covers ? "covers it." : "does not cover it: messages it cannot pay end as Insufficient funds.");
    balance.className = preview.balance_covers ? "ok" : "error";
  }
  $("#confirm-body").textContent = job.body;
  const left = Object.entries(preview.excluded).map(([reason, count]) => `${EXCLUDED_REASONS[reason] || reason}: ${count}`);
  if (preview.duplicates_removed) left.push(`duplicate numbers: ${preview.duplicates_removed}`);
  if (preview.invalid_records) left.push(`refused records: ${preview.invalid_records}`);
  $("#confirm-excluded").textContent = left.length ? `Left out: ${left.join(", ")}.` : "";
  $("#confirm-zone").textContent = context.timeZone;
  const form = $("#confirm-form");
  clearProblems(form);
  const sendButton = $("#confirm-send");
  sendButton.dataset.people = people;
  sendButton.disabled = preview.recipients === 0;
  chooseWhen();
  showError("#confirm-error", null);
  if (!dialog.open) dialog.showModal();
  return job;
}

// "Now" or "At": the time and what to do if something changed by then show only for "At".
function chooseWhen() {
  const form = $("#confirm-form");
  const later = form.elements.when.value === "later";
  $("#confirm-later").hidden = !later;
  form.elements.send_at.required = later;
  const people = $("#confirm-send").dataset.people;
  $("#confirm-send").textContent = later ? `Schedule for ${people}` : `Send to ${people}`;
}

function confirmBody(dialog) {
  const form = $("#confirm-form");
  const body = { confirmation_token: dialog.dataset.token };
  if (form.elements.when.value === "later") {
    try {
      body.send_at = zonedInputToIso(form.elements.send_at.value, context.timeZone);
    } catch (error) {
      error.problem = { field: "send_at", detail: error.message };
      throw error;
    }
    if (!body.send_at) throw Object.assign(new Error("choose when to send it"), { problem: { field: "send_at", detail: "choose when to send it" } });
    body.if_changed = form.elements.if_changed.value;
  }
  return body;
}

async function confirmJob(event) {
  event.preventDefault();
  const dialog = $("#confirm-dialog");
  const form = $("#confirm-form");
  const { kind, jobId } = dialog.dataset;
  clearProblems(form);
  $("#confirm-send").disabled = true;
  try {
    const answer = await api("POST", `/v1/${kind}/${jobId}/confirm`, confirmBody(dialog));
    const job = await settled(kind, answer, $("#confirm-wait"));
    if (job.status === "previewed" && job.refusal) {
      await openConfirm(kind, job, dialog.onClosed);
      showError("#confirm-error", new Error("The recipients changed since the preview: check the new counts."));
      return;
    }
    dialog.close();
    if (job.status === "scheduled") toast(`Scheduled for ${inZone(job.send_at)}.`);
    if (dialog.onClosed) dialog.onClosed(jobId, true);
  } catch (error) {
    if (error.problem && error.problem.reason === "preview_stale") {
      await openConfirm(kind, await api("POST", `/v1/${kind}/${jobId}/preview`), dialog.onClosed);
      showError("#confirm-error", new Error("The recipients changed since the preview: check the new counts."));
    } else {
      formProblem(form, error);
      $("#confirm-send").disabled = false;
    }
  }
}

async function cancelPreview() {
  const dialog = $("#confirm-dialog");
  const { kind, jobId } = dialog.dataset;
  try {
    await api("POST", `/v1/${kind}/${jobId}/cancel`);
    toast("Cancelled: nothing was sent.");
  } catch (error) {
    toast(error.message);
  }
  dialog.close();
  if (dialog.onClosed) dialog.onClosed(jobId, false);
}

export function wireConfirm() {
  $("#confirm-form").addEventListener("submit", confirmJob);
  $("#confirm-cancel").addEventListener("click", cancelPreview);
  for (const radio of $("#confirm-form").querySelectorAll("[name=when]")) radio.addEventListener("change", chooseWhen);
  $("#confirm-dialog").addEventListener("cancel", (event) => { event.preventDefault(); cancelPreview(); });
}

export function stopWatching(panel) {
  clearTimeout(timers.get(panel));
  timers.delete(panel);
}

// What a scheduled job found when its time came, and what it did.
export function startReportText(report) {
  const covers = (value) => (value === null ? "no balance check" : value ? "covered" : "not covered");
  const found = `${report.recipients_now.toLocaleString()} recipients (${report.recipients_confirmed.toLocaleString()} confirmed), `
    + `balance ${covers(report.balance_covers_now)} (${covers(report.balance_covered)} when confirmed)`;
  const did = report.action === "sent" ? "sent" : "stopped: nothing was sent";
  return `Started ${inZone(report.at)}: ${report.changed ? "changed" : "unchanged"} since the confirmation, ${found}; ${did}.`;
}

function showSchedule(kind, job, panel) {
  const box = panel.querySelector(".schedule-box");
  if (!box) return;
  box.hidden = job.status !== "scheduled";
  if (box.hidden) return;
  const rule = job.if_changed === "send" ? "it is sent anyway" : "it stops and sends nothing";
  box.querySelector(".schedule-text").textContent = `Scheduled for ${inZone(job.send_at)}. `
    + `If the recipients, the text or the balance changed by then, ${rule}.`;
  const form = box.querySelector("form");
  if (form.dataset.jobId !== job.id) {
    form.dataset.jobId = job.id;
    form.elements.send_at.value = isoToZonedInput(job.send_at, context.timeZone);
    box.querySelector(".schedule-zone").textContent = context.timeZone;
    clearProblems(form);
  }
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearProblems(form);
    try {
      let sendAt;
      try {
        sendAt = zonedInputToIso(form.elements.send_at.value, context.timeZone);
      } catch (error) {
        throw Object.assign(error, { problem: { field: "send_at", detail: error.message } });
      }
      const moved = await api("POST", `/v1/${kind}/${job.id}/schedule`, { send_at: sendAt });
      toast(`Moved to ${inZone(moved.send_at)}.`);
      showSchedule(kind, moved, panel);
    } catch (error) {
      formProblem(form, error);
    }
  };
}

// Follow a job in a progress panel (its .progress-title, .progress-fill, .progress-text,
// .progress-job, .progress-counts, .schedule-box and .start-report), with a Cancel button while
// it runs or waits for its time; onDone runs once it is finished.
export function watchJob(kind, jobId, panel, onDone) {
  stopWatching(panel);
  panel.hidden = false;
  panel.dataset.state = "running";
  panel.dataset.jobId = jobId;
  panel.querySelector(".progress-job").textContent = jobId;
  const scheduleForm = panel.querySelector(".schedule-box form");
  if (scheduleForm) delete scheduleForm.dataset.jobId;
  const cancel = panel.querySelector(".progress-cancel");
  if (cancel) {
    cancel.hidden = false;
    cancel.onclick = async () => {
      try {
        await api("POST", `/v1/${kind}/${jobId}/cancel`);
        toast("Cancelled: messages not yet sent fail as cancelled.");
      } catch (error) {
        toast(error.message);
      }
    };
  }
  const poll = async () => {
    try {
      const job = await api("GET", `/v1/${kind}/${jobId}`);
      const counts = job.progress || {};
      const count = (status) => counts[status] || 0;
      const total = Math.max(job.preview ? job.preview.recipients : 0, 1);
      const handedOver = count("Sent") + count("Delivered") + count("Failed") + count("Insufficient funds");
      panel.querySelector(".progress-fill").style.width = `${Math.min(100, Math.round((100 * handedOver) / total))}%`;
      const order = ["Delivered", "Sent", "Failed", "Insufficient funds", "In Progress", "Pending"];
      const summary = order.map((status) => `${status} ${count(status)}`).join(" · ");
      const finished = FINISHED.includes(job.status) && !count("Pending") && !count("In Progress");
      const scheduled = job.status === "scheduled";
      const title = panel.querySelector(".progress-title");
      if (title) title.textContent = scheduled ? "Scheduled" : finished ? "Done" : "Sending";
      let text = `${finished ? "Done" : "Sending"} (${job.status}): ${summary}`;
      if (scheduled) text = "Waiting for its time (scheduled).";
      else if (RUNNING.includes(job.status)) text = waitingText(job);
      panel.querySelector(".progress-text").textContent = text;
      panel.dataset.status = job.status;
      showSchedule(kind, job, panel);
      const report = panel.querySelector(".start-report");
      if (report) {
        report.hidden = !job.start_report;
        report.textContent = job.start_report ? startReportText(job.start_report) : "";
      }
      if (cancel) cancel.textContent = scheduled ? "Cancel it" : "Cancel the rest";
      const list = panel.querySelector(".progress-counts");
      if (list) list.hidden = scheduled;
      if (list) {
        list.replaceChildren(...order.map((status) => el("li", { "data-status": status },
          el("span", { class: "hint", text: status }), " ", el("span", { class: "strong", text: String(count(status)) }))));
      }
      if (finished) {
        panel.dataset.state = "done";
        if (cancel) cancel.hidden = true;
        timers.delete(panel);
        if (onDone) await onDone(job);
        return;
      }
      panel.dataset.state = scheduled ? "scheduled" : "running";
    } catch (error) {
      panel.querySelector(".progress-text").textContent = error.message;
    }
    timers.set(panel, setTimeout(poll, POLL_MS));
  };
  poll();
}
