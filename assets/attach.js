/* An image pasted into the chat page is attached like a picked one: handed to the attach button's file input (its id
 * comes with the page config: chat.js keeps it). */
function attachInput() {
  const ids = (window.dash_clientside && window.dash_clientside.chat && window.dash_clientside.chat.ids) || {};
  return `#${ids.ATTACH} input[type="file"]`;
}
document.addEventListener('paste', (event) => {
  const files = Array.from((event.clipboardData && event.clipboardData.files) || [])
    .filter((file) => file.type.startsWith('image/'));
  const input = document.querySelector(attachInput());
  if (!files.length || !input) return;  // text is pasted as usual
  event.preventDefault();
  const picked = new DataTransfer();
  files.forEach((file) => picked.items.add(file));
  input.files = picked.files;
  input.dispatchEvent(new Event('change', {bubbles: true}));
});

/* The file input forgets what dcc.Upload has read: the same file can be picked again after removing or sending it. */
document.addEventListener('change', (event) => {
  const input = event.target;
  if (input.matches && input.matches(attachInput())) setTimeout(() => { input.value = ''; });
});
