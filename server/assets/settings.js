// Copy-to-clipboard for the freshly created token. Everything else on the
// settings page works without JavaScript.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  const target = document.getElementById(button.dataset.copy);
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.textContent.trim());
      button.textContent = "Copied";
    } catch (_) {
      button.textContent = "Select and copy it";
    }
  });
});
