// Live figures. The console pushes every flow's figures each interval as
// Server-Sent Events (/stream); each cell with data-flow and data-figure
// shows one of them, and is marked for a moment when it changes. Served
// as a file so the page's Content-Security-Policy can forbid inline script.
(function () {
  'use strict';
  var cells = document.querySelectorAll('[data-flow][data-figure]');
  if (cells.length === 0 || !window.EventSource) {
    return;
  }
  var status = document.getElementById('live-status');

  function show(figure, value) {
    if (value === null || value === undefined) {
      return '–';
    }
    if (figure === 'rate') {
      return value < 10 ? value.toFixed(1) : Math.round(value).toString();
    }
    return Math.round(value).toString();
  }

  var stream = new EventSource('/stream');
  stream.addEventListener('figures', function (ev) {
    var snap = JSON.parse(ev.data);
    cells.forEach(function (cell) {
      var f = snap.flows[cell.dataset.flow];
      if (!f) {
        return;
      }
      var text = show(cell.dataset.figure, f[cell.dataset.figure]);
      if (cell.textContent === text) {
        return;
      }
      // The first figures fill the page; marking them would mark them all.
      var filling = cell.textContent === '–';
      cell.textContent = text;
      if (!filling) {
        cell.classList.add('changed');
        setTimeout(function () { cell.classList.remove('changed'); }, 800);
      }
    });
    if (status) {
      status.textContent = 'live · ' + new Date(snap.at).toLocaleTimeString();
    }
  });
  stream.addEventListener('error', function () {
    if (status) {
      status.textContent = 'reconnecting…';
    }
  });
}());
