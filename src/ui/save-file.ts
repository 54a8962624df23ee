// Saving text as a download, the one way the page hands a file to the person: an identity, a
// proof, a calendar event.

/** Offers `text` as a download named `fileName`; the object URL is let go once the click is done. */
export function saveFile(fileName: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
