//! Flow collections (`{ name: out, path: x }`, `[a, b]`) and quoted scalars, which may
//! span lines.

use super::{is_ws, Kind, Node, Pos, Reader};

impl Reader {
    /// Skips blanks, line ends and comments inside a flow collection.
    fn flow_ws(&self, mut p: Pos) -> Option<Pos> {
        loop {
            p = self.skip_ws(p);
            if self.rest_empty(p) {
                p = (p.0 + 1, 0);
                if p.0 >= self.lines.len() {
                    return None;
                }
            } else {
                return Some(p);
            }
        }
    }

    /// A flow node at `p`; returns it and the position after it.
    pub(super) fn flow(&self, p: Pos) -> Option<(Node, Pos)> {
        match self.at(p)? {
            '{' => {
                let mut entries = Vec::new();
                let mut q = self.flow_ws((p.0, p.1 + 1))?;
                loop {
                    if self.at(q)? == '}' {
                        break;
                    }
                    let (key, kend) = self.flow(q)?;
                    let Kind::Scalar(Some(k)) = key.kind else {
                        return None;
                    };
                    let r = self.flow_ws(kend)?;
                    let (value, end) = if self.at(r)? == ':' {
                        let v = self.flow_ws((r.0, r.1 + 1))?;
                        if matches!(self.at(v)?, ',' | '}') {
                            (self.scalar_node(q, Some(String::new())), v)
                        } else {
                            let (value, end) = self.flow(v)?;
                            (value, self.flow_ws(end)?)
                        }
                    } else {
                        (self.scalar_node(q, Some(String::new())), r)
                    };
                    entries.push((k, self.spot(q), value));
                    match self.at(end)? {
                        ',' => q = self.flow_ws((end.0, end.1 + 1))?,
                        '}' => {
                            q = end;
                            break;
                        }
                        _ => return None,
                    }
                }
                let node = Node {
                    at: self.spot(p),
                    kind: Kind::Map(entries),
                };
                Some((node, (q.0, q.1 + 1)))
            }
            '[' => {
                let mut items = Vec::new();
                let mut q = self.flow_ws((p.0, p.1 + 1))?;
                loop {
                    if self.at(q)? == ']' {
                        break;
                    }
                    let (item, end) = self.flow(q)?;
                    let end = self.flow_ws(end)?;
                    items.push((self.spot(q), item));
                    match self.at(end)? {
                        ',' => q = self.flow_ws((end.0, end.1 + 1))?,
                        ']' => {
                            q = end;
                            break;
                        }
                        _ => return None,
                    }
                }
                let node = Node {
                    at: self.spot(p),
                    kind: Kind::Seq(items),
                };
                Some((node, (q.0, q.1 + 1)))
            }
            '"' | '\'' => {
                let (text, end) = self.quoted(p)?;
                Some((self.scalar_node(p, text), end))
            }
            '*' => Some((self.scalar_node(p, None), self.flow_word_end(p))),
            '&' => {
                let q = self.flow_ws(self.flow_word_end(p))?;
                self.flow(q)
            }
            '!' | '?' | '%' | '@' | '`' | ',' | ']' | '}' | '#' | '|' | '>' => None,
            _ => {
                let line = &self.lines[p.0];
                let mut i = p.1;
                while let Some(&ch) = line.get(i) {
                    let next = line.get(i + 1).copied();
                    let stop = matches!(ch, ',' | '[' | ']' | '{' | '}')
                        || (ch == ':' && next.is_none_or(|n| is_ws(n) || ",[]{}".contains(n)))
                        || (ch == '#' && i > p.1 && is_ws(line[i - 1]));
                    if stop {
                        break;
                    }
                    i += 1;
                }
                let text: String = line[p.1..i].iter().collect();
                Some((
                    self.scalar_node(p, Some(text.trim_end().to_string())),
                    (p.0, i),
                ))
            }
        }
    }

    fn flow_word_end(&self, (l, mut c): Pos) -> Pos {
        while self
            .at((l, c))
            .is_some_and(|ch| !is_ws(ch) && !",[]{}".contains(ch))
        {
            c += 1;
        }
        (l, c)
    }

    /// A quoted scalar at `p` (at its opening quote): its text (`None` when it has an
    /// escape this reader does not decode) and the position after the closing quote.
    pub(super) fn quoted(&self, p: Pos) -> Option<(Option<String>, Pos)> {
        let quote = self.at(p)?;
        let (mut l, mut c) = (p.0, p.1 + 1);
        let mut text = String::new();
        let mut known = true;
        // Line breaks fold: into a space, or into `\n` per blank line.
        let mut breaks = 0usize;
        loop {
            let line = self.lines.get(l)?;
            let Some(&ch) = line.get(c) else {
                // Trailing blanks before a break are not part of the text.
                let kept = text.trim_end_matches([' ', '\t']).len();
                text.truncate(kept);
                breaks += 1;
                l += 1;
                c = self.skip_ws((l, 0)).1;
                continue;
            };
            if breaks > 0 {
                if breaks == 1 {
                    text.push(' ');
                } else {
                    text.extend(std::iter::repeat_n('\n', breaks - 1));
                }
                breaks = 0;
            }
            if ch == quote {
                if quote == '\'' && line.get(c + 1) == Some(&'\'') {
                    text.push('\'');
                    c += 2;
                    continue;
                }
                return Some((known.then_some(text), (l, c + 1)));
            }
            if quote == '"' && ch == '\\' {
                match line.get(c + 1) {
                    None => {
                        // An escaped line break: no space.
                        l += 1;
                        c = self.skip_ws((l, 0)).1;
                        continue;
                    }
                    Some(e) => {
                        match e {
                            'n' => text.push('\n'),
                            't' => text.push('\t'),
                            '\\' => text.push('\\'),
                            '"' => text.push('"'),
                            '/' => text.push('/'),
                            ' ' => text.push(' '),
                            _ => known = false,
                        }
                        c += 2;
                        continue;
                    }
                }
            }
            text.push(ch);
            c += 1;
        }
    }
}
