//! The full-screen `corral top` (ratatui over crossterm): drawing, keys, menus.
//!
//! The terminal is restored (raw mode off, alternate screen left, cursor shown) when the
//! loop ends, on SIGINT/SIGTERM (checked between events) and on panic (a hook restores
//! it before the message is printed).

use std::collections::HashSet;
use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral::{Pid, PriorityClass, Signal};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TLine, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table};
use ratatui::{Frame, Terminal};

use super::actions::{self, Action, Target};
use super::batch::{load_text, uptime_text};
use super::model::{JobUsage, Line, Matcher, Model, Sort, View};
use super::Options;
use crate::columns::{clock, human_bytes, Align, Column};
use crate::Failure;

/// Signals offered by the signal menu (TERM first: the default).
const SIGNALS: [Signal; 15] = [
    Signal::Term,
    Signal::Kill,
    Signal::Hup,
    Signal::Int,
    Signal::Quit,
    Signal::Usr1,
    Signal::Usr2,
    Signal::Stop,
    Signal::Cont,
    Signal::Tstp,
    Signal::Abrt,
    Signal::Alrm,
    Signal::Winch,
    Signal::Pipe,
    Signal::Segv,
];

const HELP: &[&str] = &[
    "corral top — keys",
    "",
    "Up/Down PgUp/PgDn Home/End   move the selection",
    "< >  or F6                   choose the sort column; I inverts",
    "\\  or F4                     filter: type to narrow, Enter keeps, Esc clears",
    "                             (user:NAME, pid:N, cgroup:PATH, ~REGEX a regex)",
    "/  or F3, n                  search by name or command line, next match",
    "t or F5 / H / J              tree view / threads / jobs (cgroups)",
    "Enter (jobs view)            the selected cgroup's processes (filter cgroup:PATH)",
    "k  or F9                     signal menu (TERM by default; Tab: whole tree)",
    "x / X                        graceful stop (TERM, KILL after 5 s) / of the tree",
    "s / c                        suspend (STOP) / continue (CONT)",
    "F7 or [ / F8 or ]            nice -1 (more favoured) / nice +1",
    "C / a                        priority class menu / CPU affinity",
    "p  or space                  pause refreshing",
    "?  or F1                     this help",
    "q  or F10 (or Ctrl-C)        quit",
    "",
    "Actions address the process drawn on screen by pid and start time: if",
    "the pid was reused meanwhile, the action is refused. pid 1, kernel",
    "threads, corral and its ancestors ask for a confirmation.",
    "",
    "Press any key to close.",
];

/// Restores the terminal; harmless when it is not in raw mode.
fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SelKey {
    Proc(Pid, u64),
    Thread(Pid, u32),
    Job(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuKind {
    Signal,
    Sort,
    Class,
}

struct Menu {
    kind: MenuKind,
    items: Vec<String>,
    sel: usize,
    target: Option<Target>,
    tree: bool,
    typed: String,
}

enum Mode {
    Normal,
    Filter,
    Search,
    Menu(Menu),
    Affinity {
        target: Target,
        buf: String,
    },
    Confirm {
        target: Target,
        action: Action,
        why: &'static str,
    },
    Help,
}

struct App {
    m: Model,
    sort: Sort,
    filter_text: String,
    filter: Option<Matcher>,
    view: View,
    delay: Duration,
    sel: usize,
    offset: usize,
    sel_key: Option<SelKey>,
    paused: bool,
    mode: Mode,
    search: String,
    message: Option<(String, Instant)>,
    protected: HashSet<Pid>,
    tx: Sender<String>,
    rx: Receiver<String>,
    color: bool,
    page: usize,
    quit: bool,
}

pub fn run(o: Options) -> Result<(), Failure> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(Failure::usage(
            "corral top needs a terminal; use --batch for output to a pipe or file",
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Failure::fatal(format!("installing a signal handler: {e}")))?;
    }
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
    }));
    terminal::enable_raw_mode().map_err(|e| Failure::fatal(format!("terminal: {e}")))?;
    let _guard = Guard;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)
        .map_err(|e| Failure::fatal(format!("terminal: {e}")))?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))
        .map_err(|e| Failure::fatal(format!("terminal: {e}")))?;
    let (tx, rx) = mpsc::channel();
    let mut app = App {
        m: Model::new(o.cols.clone()),
        sort: o.sort,
        filter_text: o.filter_text.clone(),
        filter: o.filter,
        view: o.view,
        delay: o.delay,
        sel: 0,
        offset: 0,
        sel_key: None,
        paused: false,
        mode: Mode::Normal,
        search: String::new(),
        message: None,
        protected: actions::protected(),
        tx,
        rx,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        page: 10,
        quit: false,
    };
    let mut refreshes = 0u64;
    // The first CPU figures need two readings: take the second one soon.
    let mut next = Instant::now();
    let mut first = true;
    let mut dirty = true;
    while !app.quit && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next && !app.paused {
            app.refresh()?;
            refreshes += 1;
            if o.iterations.is_some_and(|n| refreshes > n) {
                break;
            }
            // From the end of this refresh: on a machine where a refresh takes longer
            // than the interval, keys are still handled between refreshes.
            next = Instant::now()
                + if first {
                    app.delay.min(Duration::from_millis(500))
                } else {
                    app.delay
                };
            first = false;
            dirty = true;
        }
        while let Ok(msg) = app.rx.try_recv() {
            app.say(msg);
            dirty = true;
        }
        if dirty {
            term.draw(|f| app.draw(f))
                .map_err(|e| Failure::fatal(format!("terminal: {e}")))?;
            dirty = false;
        }
        let wait = if app.paused {
            Duration::from_millis(250)
        } else {
            next.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(250))
        };
        // Every key already typed is handled before the next refresh or drawing.
        let mut wait = wait;
        while event::poll(wait).map_err(|e| Failure::fatal(format!("terminal: {e}")))? {
            match event::read().map_err(|e| Failure::fatal(format!("terminal: {e}")))? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    app.key(k);
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
            if app.quit {
                break;
            }
            wait = Duration::ZERO;
        }
        if let Some((_, at)) = &app.message {
            // Until the next key, or a minute: a message about an action must not vanish
            // before it is read.
            if at.elapsed() > Duration::from_secs(60) {
                app.message = None;
                dirty = true;
            }
        }
    }
    drop(term);
    Ok(())
}

fn style_if(color: bool, s: Style) -> Style {
    if color {
        s
    } else {
        Style::default()
    }
}

/// The width a column gets on screen (0: takes what is left).
fn width_of(c: &Column) -> u16 {
    match c.name {
        "pid" | "ppid" | "pgid" | "sid" => 7,
        "user" => 8,
        "uid" => 5,
        "name" => 15,
        "state" => 1,
        "status" => 8,
        "cpu" | "mem" | "fds" => 5,
        "time" => 9,
        "rss" | "vms" | "tty" => 6,
        "threads" => 4,
        "nice" => 3,
        "start" => 5,
        "elapsed" => 11,
        "exe" | "cwd" => 24,
        "cgroup" => 30,
        _ => 0,
    }
}

fn cell(s: String, align: Align) -> Cell<'static> {
    let l = TLine::from(s);
    Cell::from(match align {
        Align::Right => l.alignment(Alignment::Right),
        Align::Left => l,
    })
}

impl App {
    fn say(&mut self, msg: String) {
        self.message = Some((msg, Instant::now()));
    }

    fn refresh(&mut self) -> Result<(), Failure> {
        self.m
            .refresh(&self.sort, self.filter.as_ref(), self.view)?;
        self.rebuild();
        Ok(())
    }

    /// Rebuilds the lines after a refresh or a change of sort, filter or view, and
    /// keeps the selection on the same process.
    fn rebuild(&mut self) {
        self.m
            .ensure(Model::needs(&self.sort, self.filter.as_ref(), self.view));
        self.m.build(self.view, &self.sort, self.filter.as_ref());
        if let Some(k) = &self.sel_key {
            if let Some(n) = self.m.lines.iter().position(|l| self.key_of(l) == *k) {
                self.sel = n;
            }
        }
        self.clamp();
    }

    fn key_of(&self, l: &Line) -> SelKey {
        match l {
            Line::Proc { i, .. } => SelKey::Proc(self.m.rows[*i].pid, self.m.rows[*i].start.raw),
            Line::Thread { i, tid, .. } => SelKey::Thread(self.m.rows[*i].pid, *tid),
            Line::Job { j } => SelKey::Job(self.m.jobs[*j].cgroup.clone()),
        }
    }

    fn clamp(&mut self) {
        let n = self.m.lines.len();
        if self.sel >= n {
            self.sel = n.saturating_sub(1);
        }
        self.sel_key = self.m.lines.get(self.sel).map(|l| self.key_of(l));
    }

    fn move_to(&mut self, n: isize) {
        let max = self.m.lines.len().saturating_sub(1) as isize;
        self.sel = n.clamp(0, max.max(0)) as usize;
        self.clamp();
    }

    /// The process on the selected line, as drawn.
    fn target(&self) -> Option<Target> {
        match self.m.lines.get(self.sel)? {
            Line::Proc { i, .. } | Line::Thread { i, .. } => Some(Target::of(&self.m.rows[*i])),
            Line::Job { .. } => None,
        }
    }

    fn need_target(&mut self) -> Option<Target> {
        let t = self.target();
        if t.is_none() {
            self.say("select a process first (the jobs view has no process rows)".into());
        }
        t
    }

    fn act(&mut self, t: Target, a: Action) {
        if let Some(why) = actions::guard(&t, &self.protected) {
            self.mode = Mode::Confirm {
                target: t,
                action: a,
                why,
            };
            return;
        }
        let msg = actions::perform(&t, &a, &self.tx);
        self.say(msg);
    }

    fn set_sort_col(&mut self, col: &'static Column) {
        if self.sort.col.name != col.name {
            // Numbers read best largest first, text A to Z.
            let desc = !matches!(col.align, Align::Left);
            self.sort = Sort { col, desc };
        }
        self.rebuild();
    }

    fn step_sort(&mut self, by: isize) {
        let cols = &self.m.cols;
        let at = cols
            .iter()
            .position(|c| c.name == self.sort.col.name)
            .unwrap_or(0) as isize;
        let n = cols.len() as isize;
        let col = cols[((at + by).rem_euclid(n)) as usize];
        self.set_sort_col(col);
    }

    fn search_next(&mut self, from: usize) {
        let s = self.search.to_lowercase();
        if s.is_empty() {
            return;
        }
        self.m.ensure(
            [corral::Field::Name, corral::Field::Cmdline]
                .into_iter()
                .collect(),
        );
        let n = self.m.lines.len();
        for k in 0..n {
            let at = (from + k) % n;
            let hit = match &self.m.lines[at] {
                Line::Proc { i, .. } => {
                    let r = &self.m.rows[*i];
                    let name = matches!(&r.name, Some(Ok(x)) if x.to_lowercase().contains(&s));
                    let cmd = matches!(&r.cmdline, Some(Ok(a)) if a.iter().any(|x| x.to_string_lossy().to_lowercase().contains(&s)));
                    name || cmd
                }
                Line::Job { j } => self.m.jobs[*j].cgroup.to_lowercase().contains(&s),
                Line::Thread { .. } => false,
            };
            if hit {
                self.move_to(at as isize);
                return;
            }
        }
        self.say(format!("not found: {}", self.search));
    }

    fn set_filter(&mut self, text: String) {
        match Matcher::parse(&text) {
            Ok(m) => {
                self.filter = m;
                self.filter_text = text;
            }
            Err(e) => {
                // Keep the text (a regex being typed is often incomplete) but no filter.
                self.filter_text = text;
                self.say(e);
            }
        }
        self.rebuild();
    }

    fn toggle_view(&mut self, v: View) {
        self.view = if self.view == v { View::List } else { v };
        self.rebuild();
    }

    fn key(&mut self, k: KeyEvent) {
        self.message = None;
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.key_normal(k),
            Mode::Help => {}
            Mode::Filter => match k.code {
                KeyCode::Enter => {}
                KeyCode::Esc => self.set_filter(String::new()),
                KeyCode::Backspace => {
                    let mut t = self.filter_text.clone();
                    t.pop();
                    self.set_filter(t);
                    self.mode = Mode::Filter;
                }
                KeyCode::Char(c) => {
                    let mut t = self.filter_text.clone();
                    t.push(c);
                    self.set_filter(t);
                    self.mode = Mode::Filter;
                }
                _ => self.mode = Mode::Filter,
            },
            Mode::Search => match k.code {
                KeyCode::Enter => {}
                KeyCode::Esc => self.search.clear(),
                KeyCode::Backspace => {
                    self.search.pop();
                    self.mode = Mode::Search;
                }
                KeyCode::Char(c) => {
                    self.search.push(c);
                    let from = self.sel;
                    self.search_next(from);
                    self.mode = Mode::Search;
                }
                _ => self.mode = Mode::Search,
            },
            Mode::Menu(menu) => self.key_menu(menu, k),
            Mode::Affinity { target, mut buf } => match k.code {
                KeyCode::Esc => {}
                KeyCode::Enter => match crate::run::parse_cpus(&buf, "affinity") {
                    Ok(cpus) => self.act(target, Action::Affinity(cpus)),
                    Err(f) => self.say(f.msg),
                },
                KeyCode::Backspace => {
                    buf.pop();
                    self.mode = Mode::Affinity { target, buf };
                }
                KeyCode::Char(c) if c.is_ascii_digit() || c == ',' || c == '-' => {
                    buf.push(c);
                    self.mode = Mode::Affinity { target, buf };
                }
                _ => self.mode = Mode::Affinity { target, buf },
            },
            Mode::Confirm {
                target,
                action,
                why,
            } => {
                if matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    let msg = actions::perform(&target, &action, &self.tx);
                    self.say(msg);
                } else {
                    self.say(format!("cancelled: {} {why}", target.pid));
                }
            }
        }
    }

    fn key_normal(&mut self, k: KeyEvent) {
        let page = self.page.max(1) as isize;
        let sel = self.sel as isize;
        match k.code {
            KeyCode::Char('q') | KeyCode::F(10) => self.quit = true,
            KeyCode::Up => self.move_to(sel - 1),
            KeyCode::Down => self.move_to(sel + 1),
            KeyCode::PageUp => self.move_to(sel - page),
            KeyCode::PageDown => self.move_to(sel + page),
            KeyCode::Home => self.move_to(0),
            KeyCode::End => self.move_to(isize::MAX / 2),
            KeyCode::Char('<') | KeyCode::Char(',') => self.step_sort(-1),
            KeyCode::Char('>') | KeyCode::Char('.') => self.step_sort(1),
            KeyCode::Char('I') => {
                self.sort.desc = !self.sort.desc;
                self.rebuild();
            }
            KeyCode::F(6) => {
                let items = self.m.cols.iter().map(|c| c.header.to_string()).collect();
                let sel = self
                    .m
                    .cols
                    .iter()
                    .position(|c| c.name == self.sort.col.name)
                    .unwrap_or(0);
                self.mode = Mode::Menu(Menu {
                    kind: MenuKind::Sort,
                    items,
                    sel,
                    target: None,
                    tree: false,
                    typed: String::new(),
                });
            }
            KeyCode::Char('\\') | KeyCode::F(4) => self.mode = Mode::Filter,
            KeyCode::Char('/') | KeyCode::F(3) => {
                self.search.clear();
                self.mode = Mode::Search;
            }
            KeyCode::Char('n') => {
                let from = self.sel + 1;
                self.search_next(from);
            }
            KeyCode::Enter if self.view == View::Jobs => {
                // A job's members, in the process list.
                if let Some(Line::Job { j }) = self.m.lines.get(self.sel) {
                    let filter = format!("cgroup:{}", self.m.jobs[*j].cgroup);
                    self.view = View::List;
                    self.set_filter(filter);
                }
            }
            KeyCode::Char('t') | KeyCode::F(5) => self.toggle_view(View::Tree),
            KeyCode::Char('H') => self.toggle_view(View::Threads),
            KeyCode::Char('J') => self.toggle_view(View::Jobs),
            KeyCode::Char('p') | KeyCode::Char(' ') => {
                self.paused = !self.paused;
            }
            KeyCode::Char('?') | KeyCode::Char('h') | KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::Char('k') | KeyCode::F(9) => {
                if let Some(t) = self.need_target() {
                    self.mode = Mode::Menu(Menu {
                        kind: MenuKind::Signal,
                        items: SIGNALS
                            .iter()
                            .map(|s| format!("{:>2} {}", s.number(), s.name()))
                            .collect(),
                        sel: 0,
                        target: Some(t),
                        tree: false,
                        typed: String::new(),
                    });
                }
            }
            KeyCode::Char('C') => {
                if let Some(t) = self.need_target() {
                    self.mode = Mode::Menu(Menu {
                        kind: MenuKind::Class,
                        items: PriorityClass::ALL
                            .iter()
                            .map(|c| c.name().to_string())
                            .collect(),
                        sel: 2,
                        target: Some(t),
                        tree: false,
                        typed: String::new(),
                    });
                }
            }
            KeyCode::Char('a') => {
                if let Some(t) = self.need_target() {
                    self.mode = Mode::Affinity {
                        target: t,
                        buf: String::new(),
                    };
                }
            }
            KeyCode::Char(c @ ('x' | 'X' | 's' | 'c' | '[' | ']')) => {
                if let Some(t) = self.need_target() {
                    let a = match c {
                        'x' => Action::Stop { tree: false },
                        'X' => Action::Stop { tree: true },
                        's' => Action::Suspend,
                        'c' => Action::Resume,
                        '[' => Action::NiceBy(-1),
                        _ => Action::NiceBy(1),
                    };
                    self.act(t, a);
                }
            }
            KeyCode::F(n @ (7 | 8)) => {
                if let Some(t) = self.need_target() {
                    self.act(t, Action::NiceBy(if n == 7 { -1 } else { 1 }));
                }
            }
            _ => {}
        }
    }

    fn key_menu(&mut self, mut menu: Menu, k: KeyEvent) {
        let n = menu.items.len();
        match k.code {
            KeyCode::Esc => return,
            KeyCode::Up => menu.sel = menu.sel.saturating_sub(1),
            KeyCode::Down => menu.sel = (menu.sel + 1).min(n - 1),
            KeyCode::Home => menu.sel = 0,
            KeyCode::End => menu.sel = n - 1,
            KeyCode::Tab if menu.kind == MenuKind::Signal => menu.tree = !menu.tree,
            KeyCode::Backspace => {
                menu.typed.pop();
            }
            KeyCode::Char(c) => {
                // Type a name (or number) to jump to it.
                menu.typed.push(c.to_ascii_uppercase());
                let typed = menu.typed.trim().to_string();
                if let Some(at) = menu.items.iter().position(|item| {
                    let up = item.to_ascii_uppercase();
                    let mut words = up.split_whitespace();
                    let (a, b) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                    a == typed || b.starts_with(&typed) || up.starts_with(&typed)
                }) {
                    menu.sel = at;
                }
            }
            KeyCode::Enter => {
                match menu.kind {
                    MenuKind::Sort => {
                        let col = self.m.cols[menu.sel];
                        self.set_sort_col(col);
                    }
                    MenuKind::Signal => {
                        if let Some(t) = menu.target.take() {
                            let a = Action::Signal {
                                sig: SIGNALS[menu.sel],
                                tree: menu.tree,
                            };
                            self.act(t, a);
                        }
                    }
                    MenuKind::Class => {
                        if let Some(t) = menu.target.take() {
                            self.act(t, Action::Class(PriorityClass::ALL[menu.sel]));
                        }
                    }
                }
                return;
            }
            _ => {}
        }
        self.mode = Mode::Menu(menu);
    }

    // ---- drawing ----------------------------------------------------------------

    fn draw(&mut self, f: &mut Frame) {
        let area = f.area();
        let header = self.header_lines(area.width, area.height);
        let hh = (header.len() as u16).min(area.height.saturating_sub(3));
        let head_area = Rect { height: hh, ..area };
        f.render_widget(Paragraph::new(header), head_area);
        let foot = Rect {
            y: area.y + area.height.saturating_sub(1),
            height: area.height.min(1),
            ..area
        };
        let table_area = Rect {
            y: area.y + hh,
            height: area.height.saturating_sub(hh + 1),
            ..area
        };
        self.draw_table(f, table_area);
        f.render_widget(Paragraph::new(self.footer()), foot);
        self.draw_popup(f, area);
    }

    fn bar(&self, label: &str, pct: f64, text: &str, width: usize) -> Vec<Span<'static>> {
        let inner = width.saturating_sub(label.chars().count() + 2);
        let filled = ((pct / 100.0) * inner as f64)
            .round()
            .clamp(0.0, inner as f64) as usize;
        let text_len = text.chars().count().min(inner);
        let bars = filled.min(inner - text_len);
        let gap = inner - bars - text_len;
        vec![
            Span::styled(
                label.to_string(),
                style_if(self.color, Style::default().fg(Color::Cyan)),
            ),
            Span::raw("["),
            Span::styled(
                "|".repeat(bars),
                style_if(self.color, Style::default().fg(Color::Green)),
            ),
            Span::raw(" ".repeat(gap)),
            Span::raw(text.chars().take(text_len).collect::<String>()),
            Span::raw("]"),
        ]
    }

    fn header_lines(&self, width: u16, height: u16) -> Vec<TLine<'static>> {
        let s = &self.m.sys;
        let w = width as usize;
        let mut out = Vec::new();
        let n = s.per_cpu.len();
        let per_row = if w >= 160 {
            4
        } else if w >= 70 {
            2
        } else {
            1
        }
        .min(n.max(1));
        let rows = n.div_ceil(per_row);
        let budget = (height as usize).saturating_sub(12).max(1);
        if n > 0 && rows <= budget {
            let cw = w / per_row;
            let lw = format!("{}", n.saturating_sub(1)).len();
            for chunk in s.per_cpu.chunks(per_row) {
                let mut spans = Vec::new();
                for (c, p) in chunk {
                    let label = format!("{:>lw$}", c);
                    spans.extend(self.bar(&label, *p, &format!("{p:.1}%"), cw.saturating_sub(1)));
                    spans.push(Span::raw(" "));
                }
                out.push(TLine::from(spans));
            }
        } else {
            let p = s.cpu_total.unwrap_or(0.0);
            out.push(TLine::from(self.bar(
                "CPU",
                p,
                &format!("{p:.1}% of {n} CPUs"),
                w,
            )));
        }
        let half = w / 2;
        let mut mem = Vec::new();
        match &s.memory {
            Some(m) => mem.extend(self.bar(
                "Mem",
                m.percent,
                &format!(
                    "{}/{}",
                    human_bytes(m.total - m.available),
                    human_bytes(m.total)
                ),
                half.saturating_sub(1),
            )),
            None => mem.push(Span::raw("Mem: ?")),
        }
        mem.push(Span::raw(" "));
        match &s.swap {
            Some(sw) => mem.extend(self.bar(
                "Swp",
                sw.percent,
                &format!("{}/{}", human_bytes(sw.used), human_bytes(sw.total)),
                w.saturating_sub(half),
            )),
            None => mem.push(Span::raw("Swp: ?")),
        }
        out.push(TLine::from(mem));
        let t = s.tasks;
        out.push(TLine::from(format!(
            "Tasks: {}, {} thr; {} running, {} stopped, {} zombie  Load: {}  Up: {}",
            t.total,
            t.threads,
            t.running,
            t.stopped,
            t.zombie,
            load_text(s),
            uptime_text(s)
        )));
        let mut status = vec![
            Span::raw(format!("View: {}  ", self.view.name())),
            Span::raw(format!(
                "Sort: {}{}  ",
                self.sort.col.header,
                if self.sort.desc { "▼" } else { "▲" }
            )),
        ];
        if !self.filter_text.is_empty() {
            status.push(Span::raw(format!("Filter: {}  ", self.filter_text)));
        }
        if self.paused {
            status.push(Span::styled(
                "[PAUSED]",
                Style::default().add_modifier(Modifier::BOLD),
            ));
        }
        out.push(TLine::from(status));
        out
    }

    fn footer(&self) -> TLine<'static> {
        match &self.mode {
            Mode::Filter => TLine::from(format!(
                "Filter: {}_   (Enter keeps, Esc clears)",
                self.filter_text
            )),
            Mode::Search => TLine::from(format!("Search: {}_   (Enter done, n next)", self.search)),
            Mode::Affinity { target, buf } => TLine::from(format!(
                "CPUs for {} ({}), e.g. 0-1,3: {buf}_   (Enter sets, Esc cancels)",
                target.pid, target.name
            )),
            _ => match &self.message {
                Some((m, _)) => TLine::from(Span::styled(
                    m.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                )),
                None => {
                    let keys = [
                        ("F1", "Help"),
                        ("F3", "Search"),
                        ("F4", "Filter"),
                        ("F5", "Tree"),
                        ("F6", "SortBy"),
                        ("F7", "Nice-"),
                        ("F8", "Nice+"),
                        ("F9", "Kill"),
                        ("F10", "Quit"),
                    ];
                    let mut spans = Vec::new();
                    for (k, what) in keys {
                        spans.push(Span::styled(
                            k,
                            Style::default().add_modifier(Modifier::REVERSED),
                        ));
                        spans.push(Span::raw(format!("{what} ")));
                    }
                    TLine::from(spans)
                }
            },
        }
    }

    fn draw_table(&mut self, f: &mut Frame, area: Rect) {
        let visible = area.height.saturating_sub(1) as usize;
        self.page = visible.saturating_sub(1).max(1);
        if self.sel < self.offset {
            self.offset = self.sel;
        } else if visible > 0 && self.sel >= self.offset + visible {
            self.offset = self.sel + 1 - visible;
        }
        if self.offset + visible > self.m.lines.len() {
            self.offset = self.m.lines.len().saturating_sub(visible);
        }
        let end = (self.offset + visible).min(self.m.lines.len());
        let shown: Vec<Line> = self.m.lines[self.offset..end].to_vec();
        self.m.fill(&shown);
        let head_style = style_if(
            self.color,
            Style::default().bg(Color::Green).fg(Color::Black),
        )
        .add_modifier(Modifier::BOLD);
        let sel_style = Style::default().add_modifier(Modifier::REVERSED);
        if self.view == View::Jobs {
            let widths = [
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(13),
                Constraint::Length(9),
                Constraint::Length(5),
                Constraint::Length(10),
                Constraint::Length(4),
                Constraint::Length(16),
                Constraint::Fill(1),
            ];
            let header = Row::new([
                "PROCS",
                "THR",
                "%CPU",
                "RSS",
                "MEM/MAX",
                "PIDS/MAX",
                "CPUS",
                "THROTTLED",
                "OOM",
                "JOB",
                "CGROUP",
            ])
            .style(head_style);
            let rows: Vec<Row> = shown
                .iter()
                .enumerate()
                .filter_map(|(k, l)| match l {
                    Line::Job { j } => {
                        let g = &self.m.jobs[*j];
                        let r = Row::new(vec![
                            cell(g.procs.to_string(), Align::Right),
                            cell(g.threads.to_string(), Align::Right),
                            cell(format!("{:.1}", g.cpu), Align::Right),
                            cell(human_bytes(g.rss), Align::Right),
                            cell(JobUsage::memory_text(g.usage.as_ref()), Align::Right),
                            cell(JobUsage::pids_text(g.usage.as_ref()), Align::Right),
                            cell(JobUsage::cpus_text(g.usage.as_ref()), Align::Right),
                            cell(JobUsage::throttled_text(g.usage.as_ref()), Align::Right),
                            cell(JobUsage::oom_text(g.usage.as_ref()), Align::Right),
                            cell(g.job.clone().unwrap_or_else(|| "-".into()), Align::Left),
                            cell(g.cgroup.clone(), Align::Left),
                        ]);
                        Some(if self.offset + k == self.sel {
                            r.style(sel_style)
                        } else {
                            r
                        })
                    }
                    _ => None,
                })
                .collect();
            f.render_widget(Table::new(rows, widths).header(header), area);
            return;
        }
        let cols = &self.m.cols;
        let widths: Vec<Constraint> = cols
            .iter()
            .map(|c| match width_of(c) {
                0 => Constraint::Fill(1),
                n => Constraint::Length(n),
            })
            .collect();
        let sort_at = cols.iter().position(|c| c.name == self.sort.col.name);
        let header = Row::new(cols.iter().enumerate().map(|(k, c)| {
            let h = if Some(k) == sort_at {
                format!("{}{}", c.header, if self.sort.desc { "▼" } else { "▲" })
            } else {
                c.header.to_string()
            };
            cell(h, c.align)
        }))
        .style(head_style);
        let tree_col = cols
            .iter()
            .position(|c| c.name == "cmd")
            .or_else(|| cols.iter().position(|c| c.name == "name"));
        let ctx = self.m.ctx();
        let rows: Vec<Row> = shown
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let cells: Vec<Cell> = match l {
                    Line::Proc { i, art } => cols
                        .iter()
                        .enumerate()
                        .map(|(n, c)| {
                            let s = (c.show)(&self.m.value(c, *i, &ctx));
                            let s = if Some(n) == tree_col {
                                format!("{art}{s}")
                            } else {
                                s
                            };
                            cell(s, c.align)
                        })
                        .collect(),
                    Line::Thread { tid, cpu, time, .. } => cols
                        .iter()
                        .enumerate()
                        .map(|(n, c)| {
                            let s = match c.name {
                                "pid" => tid.to_string(),
                                "cpu" => format!("{cpu:.1}"),
                                "time" => clock(time.as_secs()),
                                _ if Some(n) == tree_col => format!(" └ thread {tid}"),
                                _ => String::new(),
                            };
                            cell(s, c.align)
                        })
                        .collect(),
                    Line::Job { .. } => Vec::new(),
                };
                let r = Row::new(cells);
                if self.offset + k == self.sel {
                    r.style(sel_style)
                } else if matches!(l, Line::Thread { .. }) {
                    r.style(style_if(self.color, Style::default().fg(Color::DarkGray)))
                } else {
                    r
                }
            })
            .collect();
        f.render_widget(Table::new(rows, widths).header(header), area);
    }

    fn draw_popup(&self, f: &mut Frame, area: Rect) {
        let (title, lines, sel): (String, Vec<String>, Option<usize>) = match &self.mode {
            Mode::Help => (
                "Help".into(),
                HELP.iter().map(|s| s.to_string()).collect(),
                None,
            ),
            Mode::Menu(m) => {
                let title = match m.kind {
                    MenuKind::Sort => "Sort by".to_string(),
                    MenuKind::Class => match &m.target {
                        Some(t) => format!("Priority class: {} ({})", t.pid, t.name),
                        None => "Priority class".into(),
                    },
                    MenuKind::Signal => match &m.target {
                        Some(t) => format!(
                            "Send signal to {} ({}){}",
                            t.pid,
                            t.name,
                            if m.tree { " + tree" } else { "" }
                        ),
                        None => "Send signal".into(),
                    },
                };
                let mut items = m.items.clone();
                if m.kind == MenuKind::Signal {
                    items.push(String::new());
                    items.push(format!(
                        "Enter send, Esc cancel, Tab tree: {}",
                        if m.tree { "on" } else { "off" }
                    ));
                }
                (title, items, Some(m.sel))
            }
            Mode::Confirm {
                target,
                action,
                why,
            } => (
                "Confirm".into(),
                vec![
                    format!("{} ({}) {why}.", target.pid, target.name),
                    format!("Really {}?", action.describe()),
                    String::new(),
                    "y: yes, any other key: no".into(),
                ],
                None,
            ),
            _ => return,
        };
        let wanted_w = lines
            .iter()
            .map(|l| l.chars().count())
            .chain([title.chars().count()])
            .max()
            .unwrap_or(10) as u16
            + 4;
        let w = wanted_w.min(area.width);
        let h = (lines.len() as u16 + 2).min(area.height);
        let r = Rect {
            x: area.x + (area.width - w) / 2,
            y: area.y + (area.height - h) / 2,
            width: w,
            height: h,
        };
        // Keep the selected item visible in a short terminal.
        let room = h.saturating_sub(2) as usize;
        let skip = match sel {
            Some(s) if s >= room => s + 1 - room,
            _ => 0,
        };
        let text: Vec<TLine> = lines
            .into_iter()
            .enumerate()
            .skip(skip)
            .map(|(k, l)| {
                if Some(k) == sel {
                    TLine::from(Span::styled(
                        l,
                        Style::default().add_modifier(Modifier::REVERSED),
                    ))
                } else {
                    TLine::from(l)
                }
            })
            .collect();
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(title)),
            r,
        );
    }
}
