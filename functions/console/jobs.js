// Mass messages and calling lists share their life: a preview to confirm (or cancel), then the job's
// progress per status until every message has left the queue. Both pages use this module.
import { api } from "./api.js";
import { $, el, showError, toast } from "./dom.js";
import { formatMicros } from "./money.js";

const POLL_MS = 1000;
const EXCLUDED_REASONS = {
  not_opted_in: "not opted in", opted_out: "opted out", not_sms_capable: "not SMS-capable",
  three_a_day: "three on this subject in 24 hours",
};
export const STATUSES = ["Pending", "In Progress", "Sent", "Delivered", "Failed", "Insufficient funds"];
const timers = new Map();

const RUNNING = ["awaiting_upload", "validating", "previewing", "confirming", "starting"];

// A large audience's preview (or a confirmation's check) is computed after the answer: poll the job.
export async function settled(kind, job) {
  while (RUNNING.includes(job.status)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await api("GET", `/v1/${kind}/${job.id}`);
  }
  return job;
}

// kind: "mass-messages" or "calling-lists" (the API's path for the job).
export async function openConfirm(kind, job, onClosed) {
  job = await settled(kind, job);
  const preview = job.preview;
  if (!preview) {
    toast(`The ${kind === "calling-lists" ? "calling list" : "mass message"} is ${job.status}.`);
    return;
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
  const sendButton = $("#confirm-send");
  sendButton.textContent = `Send to ${people}`;
  sendButton.disabled = preview.recipients === 0;
  showError("#confirm-error", null);
  if (!dialog.open) dialog.showModal();
}

async function confirmJob() {
  const dialog = $("#confirm-dialog");
  const { kind, jobId } = dialog.dataset;
  $("#confirm-send").disabled = true;
  try {
    const job = await settled(kind, await api("POST", `/v1/${kind}/${jobId}/confirm`, { confirmation_token: dialog.dataset.token }));
    if (job.status === "previewed" && job.refusal) {
      await openConfirm(kind, job, dialog.onClosed);
      showError("#confirm-error", new Error("The recipients changed since the preview: check the new counts."));
      return;
    }
    dialog.close();
    if (dialog.onClosed) dialog.onClosed(jobId, true);
  } catch (error) {
    if (error.problem.reason === "preview_stale") {
      await openConfirm(kind, await api("POST", `/v1/${kind}/${jobId}/preview`), dialog.onClosed);
      showError("#confirm-error", new Error("The recipients changed since the preview: check the new counts."));
    } else {
      showError("#confirm-error", error);
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
  $("#confirm-send").addEventListener("click", confirmJob);
  $("#confirm-cancel").addEventListener("click", cancelPreview);
  $("#confirm-dialog").addEventListener("cancel", (event) => { event.preventDefault(); cancelPreview(); });
}

export function stopWatching(panel) {
  clearTimeout(timers.get(panel));
  timers.delete(panel);
}

// Follow a job in a progress panel (its .progress-fill, .progress-text, .progress-job and
// .progress-counts), with a Cancel button while it runs; onDone runs once it is finished.
export function watchJob(kind, jobId, panel, onDone) {
  stopWatching(panel);
  panel.hidden = false;
  panel.dataset.state = "running";
  panel.dataset.jobId = jobId;
  panel.querySelector(".progress-job").textContent = jobId;
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
      const finished = ["queued", "cancelled", "stopped"].includes(job.status) && !count("Pending") && !count("In Progress");
      panel.querySelector(".progress-text").textContent = `${finished ? "Done" : "Sending"} (${job.status}): ${summary}`;
      const list = panel.querySelector(".progress-counts");
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
    } catch (error) {
      panel.querySelector(".progress-text").textContent = error.message;
    }
    timers.set(panel, setTimeout(poll, POLL_MS));
  };
  poll();
}
