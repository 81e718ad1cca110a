"""The page's own style and script, given to Gradio where the app is mounted (rag/factory.py).

The script makes sources open: a click (or Enter) on a source card, on a citation's number
in an answer, or on a page button in the viewer puts that source's data, as JSON, where the
viewer's hidden button reads it (`window.zhikuOpenRequest`) and clicks that button
(rag/ui/source_viewer.py). A citation opens the card of the same number in its own answer.
It also copies an answer. It reads only the JSON the server wrote into hidden `.zhiku-data`
elements (rag/ui/source_cards.py) and never inserts HTML.
"""

from __future__ import annotations

UI_JS = r"""
() => {
  if (window.zhikuSourcesReady) return;
  window.zhikuSourcesReady = true;

  // what the server put in an element's hidden `.zhiku-data` child, as JSON
  const dataOf = (el) => {
    const holder = el && el.querySelector(':scope > .zhiku-data');
    try { return holder ? JSON.parse(holder.textContent) : {}; } catch (error) { return {}; }
  };

  const cardOf = (cite) => {
    // the nearest enclosing element that holds a sources block is the citation's own answer
    const number = Number(cite.textContent);
    for (let el = cite.parentElement; el && el.id !== 'chatbot'; el = el.parentElement) {
      const block = el.querySelector('.zhiku-sources');
      if (block) {
        return [...block.querySelectorAll('.zhiku-source')]
          .find((card) => dataOf(card).index === number) || null;
      }
    }
    return null;
  };

  const open = (data, kb) => {
    window.zhikuOpenRequest = JSON.stringify({
      kb: kb || data.kb || '', file: data.file || '', page: data.page || null,
      index: data.index || 0, passage: data.passage || '', nonce: Date.now(),
    });
    document.querySelector('#zhiku-open-button')?.click();
  };

  const copy = async (button) => {
    const data = dataOf(button);
    const text = data.copy || '';
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {  // not a secure context (plain http on a LAN address)
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    const shown = button.querySelector('.zhiku-copy-label');
    if (!shown) return;
    const label = shown.textContent;
    shown.textContent = '✓ ' + (data.done || '');
    setTimeout(() => { shown.textContent = label; }, 1500);
  };

  const activate = (target) => {
    const copyButton = target.closest('.zhiku-copy');
    if (copyButton) { copy(copyButton); return true; }
    const nav = target.closest('.zhiku-page-nav');
    if (nav) { open(dataOf(nav)); return true; }
    const cite = target.closest('.zhiku-cite');
    const card = cite ? cardOf(cite) : target.closest('.zhiku-source');
    if (!card) return false;
    document.querySelectorAll('.zhiku-source.zhiku-open')
      .forEach((el) => el.classList.remove('zhiku-open'));
    card.classList.add('zhiku-open');
    open(dataOf(card), dataOf(card.closest('.zhiku-sources')).kb);
    return true;
  };

  document.addEventListener('click', (event) => {
    if (event.target instanceof Element && activate(event.target)) event.preventDefault();
  });
  document.addEventListener('keydown', (event) => {
    if ((event.key === 'Enter' || event.key === ' ') && event.target instanceof Element
        && event.target.matches('.zhiku-cite, .zhiku-source, .zhiku-copy, .zhiku-page-nav')
        && activate(event.target)) event.preventDefault();
  });
}
"""

UI_CSS = """
.zhiku-data { display: none !important; }
.zhiku-cite { color: var(--link-text-color, #2563eb); cursor: pointer; font-weight: 600;
  padding: 0 1px; border-radius: 3px; }
.zhiku-cite:hover, .zhiku-cite:focus { background: #fde68a; outline: none; }
.zhiku-sources { font-size: 0.92em; }
.zhiku-sources p { margin: 0.3em 0; }
.zhiku-source { border: 1px solid var(--border-color-primary, #e5e7eb); border-radius: 8px;
  padding: 6px 10px; margin: 6px 0; cursor: pointer; background: var(--background-fill-primary); }
.zhiku-source:hover, .zhiku-source:focus { border-color: #f59e0b; outline: none; }
.zhiku-source.zhiku-open { border-color: #d97706; box-shadow: 0 0 0 2px #fde68a; }
.zhiku-source-n { color: var(--link-text-color, #2563eb); font-weight: 600; }
.zhiku-relevance { display: flex; align-items: center; gap: 6px; font-size: 0.85em;
  color: var(--body-text-color-subdued, #6b7280); }
.zhiku-relevance meter { width: 120px; height: 0.8em; }
.zhiku-snippet { line-height: 1.5; display: -webkit-box; -webkit-box-orient: vertical;
  -webkit-line-clamp: 3; overflow: hidden; }
#chatbot .message-content hr { margin: 0.6em 0; }
mark.zhiku-term { background: #fef08a; color: inherit; padding: 0 1px; border-radius: 2px; }
.zhiku-tools { display: flex; gap: 12px; align-items: center; margin-top: 4px; }
.zhiku-copy { cursor: pointer; font-size: 0.85em; color: var(--body-text-color-subdued, #6b7280);
  border: 1px solid var(--border-color-primary, #e5e7eb); border-radius: 6px; padding: 1px 8px; }
.zhiku-copy:hover, .zhiku-copy:focus { color: var(--body-text-color); outline: none; }
.zhiku-stopped, .zhiku-plain { font-size: 0.85em; color: #b45309; }
#zhiku-plain-notice { color: #b45309; }
#model-line { font-size: 0.85em; color: var(--body-text-color-subdued, #6b7280); }
#zhiku-viewer { max-height: 82vh; overflow: auto; }
.zhiku-viewer-empty { color: var(--body-text-color-subdued, #6b7280); padding: 2em 1em;
  border: 1px dashed var(--border-color-primary, #d1d5db); border-radius: 8px; }
.zhiku-viewer-warning { color: #b45309; padding: 1em; }
.zhiku-viewer-head { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline;
  padding: 4px 0 8px; }
.zhiku-viewer-head .zhiku-download { margin-left: auto; }
.zhiku-page-nav-row { display: flex; justify-content: space-between; margin-bottom: 6px; }
.zhiku-page-nav { cursor: pointer; color: var(--link-text-color, #2563eb); font-size: 0.9em; }
.zhiku-page-image { width: 100%; border: 1px solid var(--border-color-primary, #e5e7eb);
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.08); }
.zhiku-passage { margin-top: 8px; font-size: 0.9em; line-height: 1.6; }
.zhiku-passage b { display: block; margin-bottom: 2px; }
mark.zhiku-passage-text, mark.zhiku-hit { background: #fde68a; color: inherit; }
.zhiku-doc-text { position: relative; white-space: pre-wrap; line-height: 1.7;
  max-height: 70vh; overflow: auto; padding: 8px 12px; border-radius: 6px;
  border: 1px solid var(--border-color-primary, #e5e7eb); }
.zhiku-page-mark { margin: 10px 0 4px; font-size: 0.85em; font-weight: 600;
  color: var(--body-text-color-subdued, #6b7280); border-top: 1px dashed #d1d5db; }
.zhiku-viewer-note { color: #b45309; font-size: 0.9em; }
"""
