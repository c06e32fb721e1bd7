// The memory map's step slider: recolours every cell from the frames the page carries (one letter per cell).
(function () {
  const data = document.getElementById('map-data');
  const slider = document.getElementById('step-slider');
  if (!data || !slider) return;
  const map = JSON.parse(data.textContent);
  const grids = Array.from(document.querySelectorAll('.cells'));
  const label = document.getElementById('step-label');
  const steps = Array.from(document.querySelectorAll('#step-list li'));
  function show(frame) {
    const vms = map.frames[frame];
    grids.forEach(function (grid, v) {
      const codes = vms[v];
      const cells = grid.children;
      for (let i = 0; i < cells.length; i++) {
        const css = 'cell ' + map.css[codes[i]];
        if (cells[i].className !== css) cells[i].className = css;
      }
    });
    label.textContent = map.labels[frame];
    steps.forEach(function (li, i) { li.classList.toggle('current', i === frame); });
  }
  slider.addEventListener('input', function () { show(Number(slider.value)); });
  steps.forEach(function (li, i) {
    li.addEventListener('click', function () { slider.value = String(i); show(i); });
  });
})();
