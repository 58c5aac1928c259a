//! Writing to stdout: a broken pipe ends output quietly (success), tables fit the
//! terminal, JSON is one object per line.

use std::io::{self, BufWriter, IsTerminal, Write};

use crate::columns::Align;

/// Stdout, buffered, that remembers a broken pipe.
#[derive(Debug)]
pub struct Out {
    w: BufWriter<io::Stdout>,
    pub tty: bool,
}

/// An output error: a broken pipe is not an error for a listing tool.
#[derive(Debug)]
pub enum OutErr {
    BrokenPipe,
    Io(io::Error),
}

impl From<io::Error> for OutErr {
    fn from(e: io::Error) -> OutErr {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutErr::BrokenPipe
        } else {
            OutErr::Io(e)
        }
    }
}

pub type OutResult = Result<(), OutErr>;

impl Out {
    pub fn new() -> Out {
        let stdout = io::stdout();
        let tty = stdout.is_terminal();
        Out {
            w: BufWriter::with_capacity(64 * 1024, stdout),
            tty,
        }
    }

    pub fn line(&mut self, s: &str) -> OutResult {
        self.w.write_all(s.as_bytes())?;
        self.w.write_all(b"\n")?;
        Ok(())
    }

    pub fn json(&mut self, v: &serde_json::Value) -> OutResult {
        serde_json::to_writer(&mut self.w, v).map_err(io::Error::from)?;
        self.w.write_all(b"\n")?;
        Ok(())
    }

    pub fn flush(&mut self) -> OutResult {
        self.w.flush()?;
        Ok(())
    }
}

/// The width to fit tables to: `COLUMNS` if set, the terminal's width, or none (no
/// truncation) when stdout is not a terminal.
pub fn width(tty: bool) -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        if c > 0 {
            return Some(c);
        }
    }
    if !tty {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| w.0 as usize)
}

/// Display width of a string, counting characters (good enough for the ASCII and
/// box-drawing text corral prints; wide CJK names may overrun by a little).
pub fn text_width(s: &str) -> usize {
    s.chars().count()
}

fn truncate(s: &str, w: usize) -> String {
    if text_width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Renders a table: widths from the cells, the last column truncated to fit `width`.
pub fn table(
    out: &mut Out,
    headers: &[&str],
    aligns: &[Align],
    rows: &[Vec<String>],
    header: bool,
    width: Option<usize>,
) -> OutResult {
    let n = headers.len();
    let mut w: Vec<usize> = headers.iter().map(|h| text_width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(text_width(c));
        }
    }
    let render = |cells: &[String]| -> String {
        let mut line = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            let last = i + 1 == n;
            let cw = w[i];
            if last && aligns[i] == Align::Left {
                line.push_str(c);
            } else {
                let pad = cw.saturating_sub(text_width(c));
                match aligns[i] {
                    Align::Left => {
                        line.push_str(c);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(c);
                    }
                }
            }
        }
        match width {
            Some(max) => truncate(line.trim_end(), max),
            None => line.trim_end().to_string(),
        }
    };
    if header {
        let h: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        out.line(&render(&h))?;
    }
    for r in rows {
        out.line(&render(r))?;
    }
    Ok(())
}
