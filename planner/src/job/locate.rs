//! Where a node of the job file is: a YAML path (`sinks[1].path`, `features[0].name`, the
//! third entry of a schema) to its 1-based line and column.
//!
//! A small reader of the YAML job files are written in: block mappings and sequences
//! (also a sequence at its key's indentation), flow mappings and sequences (`- { name:
//! out, path: x }`, also over several lines), plain, quoted and block scalars, comments
//! (a `#` in a quoted scalar is text), anchors and aliases. Anything else (tags, complex
//! keys, several documents, tabs in indentation) makes the whole file unlocatable:
//! diagnostics then name only the file, never a wrong line. Duplicate keys are kept, and
//! a path through a duplicated key finds nothing; [`Seg::Entry`] reaches each of them.

/// One step of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg<'a> {
    /// A mapping's value by key.
    Key(&'a str),
    /// A sequence's item.
    Index(usize),
    /// A mapping's `n`-th entry (0-based), which must have this key.
    Entry(usize, &'a str),
}

/// A 1-based line and column.
pub type Spot = (usize, usize);

/// The job file's nodes and where they are.
#[derive(Debug, Default)]
pub struct Doc {
    root: Option<Node>,
}

/// Where a path's node is: its key (or a sequence item's `-`) and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The key, the item's dash, or for the root the value.
    pub key: Spot,
    /// The value (for an empty value, its key).
    pub value: Spot,
}

#[derive(Debug)]
struct Node {
    at: Spot,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Map(Vec<(String, Spot, Node)>),
    Seq(Vec<(Spot, Node)>),
    /// The text, if read (not for block scalars, aliases, unknown escapes).
    Scalar(Option<String>),
}

impl Doc {
    /// Reads `text`; a file this reader does not understand locates nothing.
    pub fn parse(text: &str) -> Doc {
        Doc {
            root: Reader::new(text).document(),
        }
    }

    /// A reader that locates nothing.
    pub fn empty() -> Doc {
        Doc::default()
    }

    /// The node at `path`.
    pub fn find(&self, path: &[Seg]) -> Option<Found> {
        let (key, node) = self.walk(path)?;
        Some(Found {
            key,
            value: node.at,
        })
    }

    /// The text of the scalar at `path`.
    pub fn scalar(&self, path: &[Seg]) -> Option<&str> {
        match &self.walk(path)?.1.kind {
            Kind::Scalar(s) => s.as_deref(),
            _ => None,
        }
    }

    /// The number of items (sequence) or entries (mapping) at `path`.
    pub fn len(&self, path: &[Seg]) -> Option<usize> {
        match &self.walk(path)?.1.kind {
            Kind::Map(e) => Some(e.len()),
            Kind::Seq(i) => Some(i.len()),
            Kind::Scalar(_) => None,
        }
    }

    /// Where `key` is given the first and the second time in the mapping that starts at
    /// `at` (its first key, or a flow mapping's `{`), for errors about a repeated key that
    /// serde places at the mapping.
    pub fn repeated_key(&self, at: Spot, key: &str) -> Option<(Spot, Spot)> {
        fn search(node: &Node, at: Spot, key: &str) -> Option<(Spot, Spot)> {
            match &node.kind {
                Kind::Map(entries) => {
                    let starts_here = node.at == at || entries.first().is_some_and(|e| e.1 == at);
                    if starts_here {
                        let mut hits = entries.iter().filter(|(k, _, _)| k == key);
                        if let (Some((_, first, _)), Some((_, second, _))) =
                            (hits.next(), hits.next())
                        {
                            return Some((*first, *second));
                        }
                    }
                    entries.iter().find_map(|(_, _, n)| search(n, at, key))
                }
                Kind::Seq(items) => items.iter().find_map(|(_, n)| search(n, at, key)),
                Kind::Scalar(_) => None,
            }
        }
        search(self.root.as_ref()?, at, key)
    }

    /// The node at `path` and where its key (or dash) is.
    fn walk(&self, path: &[Seg]) -> Option<(Spot, &Node)> {
        let mut node = self.root.as_ref()?;
        let mut key = node.at;
        for seg in path {
            let (k, n) = match (seg, &node.kind) {
                (Seg::Key(want), Kind::Map(entries)) => {
                    let mut hits = entries.iter().filter(|(k, _, _)| k == want);
                    let (_, at, n) = hits.next()?;
                    if hits.next().is_some() {
                        return None;
                    }
                    (*at, n)
                }
                (Seg::Entry(i, want), Kind::Map(entries)) => {
                    let (k, at, n) = entries.get(*i)?;
                    if k != want {
                        return None;
                    }
                    (*at, n)
                }
                (Seg::Index(i), Kind::Seq(items)) => {
                    let (dash, n) = items.get(*i)?;
                    (*dash, n)
                }
                _ => return None,
            };
            key = k;
            node = n;
        }
        Some((key, node))
    }
}

/// 0-based line and column (characters).
type Pos = (usize, usize);

/// A mapping key's text (`None`: not decoded) and where its value starts.
type KeyAt = (Option<String>, Pos);

struct Reader {
    lines: Vec<Vec<char>>,
    /// The file starts with a byte-order mark (removed from `lines`).
    bom: bool,
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl Reader {
    fn new(text: &str) -> Reader {
        let bom = text.starts_with('\u{feff}');
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Reader {
            lines: text.lines().map(|l| l.chars().collect()).collect(),
            bom,
        }
    }

    fn spot(&self, (l, c): Pos) -> Spot {
        (l + 1, c + 1 + usize::from(self.bom && l == 0))
    }

    fn at(&self, (l, c): Pos) -> Option<char> {
        self.lines.get(l)?.get(c).copied()
    }

    /// The first non-blank column at or after `c` on line `l`.
    fn skip_ws(&self, (l, mut c): Pos) -> Pos {
        while self.at((l, c)).is_some_and(is_ws) {
            c += 1;
        }
        (l, c)
    }

    /// Nothing but a comment (or nothing) from `p` to the end of its line.
    fn rest_empty(&self, p: Pos) -> bool {
        let p = self.skip_ws(p);
        match self.at(p) {
            None => true,
            Some('#') => p.1 == 0 || self.at((p.0, p.1 - 1)).is_some_and(is_ws),
            _ => false,
        }
    }

    /// The line's indentation; `None` for a blank or comment line. A tab before the
    /// content is not YAML indentation: the reader gives up (`Err`).
    fn indent(&self, l: usize) -> Result<Option<usize>, ()> {
        let line = &self.lines[l];
        let Some(i) = line.iter().position(|c| !is_ws(*c)) else {
            return Ok(None);
        };
        if line[i] == '#' {
            return Ok(None);
        }
        if line[..i].contains(&'\t') {
            return Err(());
        }
        Ok(Some(i))
    }

    /// The next line at or after `l` with content, and its indentation.
    fn next_content(&self, mut l: usize) -> Option<Option<(usize, usize)>> {
        while l < self.lines.len() {
            if let Some(i) = self.indent(l).ok()? {
                return Some(Some((l, i)));
            }
            l += 1;
        }
        Some(None)
    }

    fn document(&self) -> Option<Node> {
        let (mut l, mut i) = self.next_content(0)??;
        if self.lines[l].starts_with(&['-', '-', '-']) && self.is_marker(l) {
            if !self.rest_empty((l, 3)) {
                return None;
            }
            (l, i) = self.next_content(l + 1)??;
        }
        if i != 0 {
            return None;
        }
        let (node, next) = self.block((l, 0), None, false)?;
        match self.next_content(next)? {
            None => Some(node),
            Some((l, 0)) if self.lines[l].starts_with(&['.', '.', '.']) && self.is_marker(l) => {
                Some(node)
            }
            Some(_) => None,
        }
    }

    /// A node starting at `p` (its first character); `parent` is the indentation of the
    /// collection holding it (`None` at the top). `inline`: after `key:` on the same line,
    /// where no block collection may start. Returns the node and the line after it.
    fn block(&self, p: Pos, parent: Option<usize>, inline: bool) -> Option<(Node, usize)> {
        let (l, c) = p;
        match self.at(p)? {
            '&' => {
                let after = self.word_end(p);
                if self.rest_empty(after) {
                    // The anchored node is on the following lines.
                    let (nl, ni) = self.next_content(l + 1)??;
                    if parent.is_some_and(|pi| ni <= pi) {
                        return None;
                    }
                    return self.block((nl, ni), parent, false);
                }
                self.block(self.skip_ws(after), parent, inline)
            }
            '*' => {
                let after = self.word_end(p);
                self.rest_empty(after).then_some(())?;
                Some((self.scalar_node(p, None), l + 1))
            }
            '-' if !inline && self.at((l, c + 1)).is_none_or(is_ws) => self.block_seq(p),
            '{' | '[' => {
                let (node, end) = self.flow(p)?;
                self.rest_empty(end).then_some(())?;
                Some((node, end.0 + 1))
            }
            '|' | '>' => {
                let mut h = c + 1;
                while self
                    .at((l, h))
                    .is_some_and(|ch| ch == '-' || ch == '+' || ch.is_ascii_digit())
                {
                    h += 1;
                }
                self.rest_empty((l, h)).then_some(())?;
                let mut next = l + 1;
                while next < self.lines.len() {
                    let line = &self.lines[next];
                    match line.iter().position(|ch| *ch != ' ') {
                        None => {}
                        Some(i) if parent.is_none_or(|pi| i > pi) => {}
                        Some(_) => break,
                    }
                    next += 1;
                }
                Some((self.scalar_node(p, None), next))
            }
            '!' | '?' | '%' | '@' | '`' => None,
            _ => {
                if self.key_at(p)?.is_some() {
                    if inline {
                        return None;
                    }
                    return self.block_map(p);
                }
                self.block_scalar_value(p, parent)
            }
        }
    }

    /// The end of an anchor or alias name.
    fn word_end(&self, (l, mut c): Pos) -> Pos {
        while self.at((l, c)).is_some_and(|ch| !is_ws(ch)) {
            c += 1;
        }
        (l, c)
    }

    fn scalar_node(&self, p: Pos, text: Option<String>) -> Node {
        Node {
            at: self.spot(p),
            kind: Kind::Scalar(text),
        }
    }

    /// A plain or quoted scalar in block context, possibly continued on lines indented
    /// deeper than `parent`.
    fn block_scalar_value(&self, p: Pos, parent: Option<usize>) -> Option<(Node, usize)> {
        let (l, c) = p;
        if matches!(self.at(p)?, '"' | '\'') {
            let (text, end) = self.quoted(p)?;
            self.rest_empty(end).then_some(())?;
            return Some((self.scalar_node(p, text), end.0 + 1));
        }
        let mut text = self.plain_line((l, c));
        let mut next = l + 1;
        let mut blanks = 0;
        let mut j = l + 1;
        while j < self.lines.len() {
            let line = &self.lines[j];
            match line.iter().position(|ch| !is_ws(*ch)) {
                None => blanks += 1,
                Some(i) if line[i] != '#' && parent.is_none_or(|pi| i > pi) => {
                    if line[..i].contains(&'\t') {
                        return None;
                    }
                    if blanks == 0 {
                        text.push(' ');
                    }
                    text.extend(std::iter::repeat_n('\n', blanks));
                    text.push_str(&self.plain_line((j, i)));
                    blanks = 0;
                    next = j + 1;
                }
                Some(_) => break,
            }
            j += 1;
        }
        Some((self.scalar_node(p, Some(text)), next))
    }

    /// A plain scalar's text on one line from `p`: up to a comment, trimmed.
    fn plain_line(&self, (l, c): Pos) -> String {
        let line = &self.lines[l];
        let mut end = line.len();
        for i in c..line.len() {
            if line[i] == '#' && i > c && is_ws(line[i - 1]) {
                end = i;
                break;
            }
        }
        line[c..end]
            .iter()
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    /// If a mapping key starts at `p`: its text, where its value starts (after `:` and
    /// blanks). `Some(None)`: no key here; `None`: not understood.
    fn key_at(&self, p: Pos) -> Option<Option<KeyAt>> {
        let (l, c) = p;
        let line = &self.lines[l];
        let (text, after) = match line[c] {
            '"' | '\'' => {
                let (text, end) = self.quoted(p)?;
                if end.0 != l {
                    return Some(None);
                }
                (text, end.1)
            }
            _ => {
                let mut i = c;
                loop {
                    match line.get(i) {
                        None => return Some(None),
                        Some('#') if i > c && is_ws(line[i - 1]) => return Some(None),
                        Some(':') if line.get(i + 1).is_none_or(|ch| is_ws(*ch)) => break,
                        _ => i += 1,
                    }
                }
                let key: String = line[c..i].iter().collect();
                (Some(key.trim_end().to_string()), i)
            }
        };
        let colon = self.skip_ws((l, after));
        if self.at(colon) != Some(':') || self.at((l, colon.1 + 1)).is_some_and(|ch| !is_ws(ch)) {
            return Some(None);
        }
        Some(Some((text, self.skip_ws((l, colon.1 + 1)))))
    }

    /// A block mapping whose first key is at `p`; later keys are at its column.
    fn block_map(&self, p: Pos) -> Option<(Node, usize)> {
        let indent = p.1;
        let mut entries = Vec::new();
        let mut at = p;
        loop {
            let (key, v) = self.key_at(at)??;
            let key = key?;
            let (value, next) = if self.rest_empty(v) {
                match self.next_content(at.0 + 1)? {
                    Some((nl, ni)) if ni > indent => self.block((nl, ni), Some(indent), false)?,
                    Some((nl, ni)) if ni == indent && self.is_dash((nl, ni)) => {
                        self.block_seq((nl, ni))?
                    }
                    _ => (self.scalar_node(at, Some(String::new())), at.0 + 1),
                }
            } else {
                self.block(v, Some(indent), true)?
            };
            entries.push((key, self.spot(at), value));
            match self.next_content(next)? {
                Some((nl, ni)) if ni == indent && !self.is_marker(nl) => {
                    if self.is_dash((nl, ni)) {
                        return None;
                    }
                    at = (nl, ni);
                }
                Some((_, ni)) if ni > indent => return None,
                _ => {
                    let node = Node {
                        at: self.spot(p),
                        kind: Kind::Map(entries),
                    };
                    return Some((node, next));
                }
            }
        }
    }

    /// A document marker (`---`, `...`) at the start of line `l`.
    fn is_marker(&self, l: usize) -> bool {
        let line = &self.lines[l];
        (line.starts_with(&['-', '-', '-']) || line.starts_with(&['.', '.', '.']))
            && line.get(3).is_none_or(|c| is_ws(*c))
    }

    fn is_dash(&self, (l, c): Pos) -> bool {
        self.at((l, c)) == Some('-') && self.at((l, c + 1)).is_none_or(is_ws)
    }

    /// A block sequence whose first `-` is at `p`.
    fn block_seq(&self, p: Pos) -> Option<(Node, usize)> {
        let dash = p.1;
        let mut items = Vec::new();
        let mut at = p;
        loop {
            let v = self.skip_ws((at.0, at.1 + 1));
            let (value, next) = if self.rest_empty(v) {
                match self.next_content(at.0 + 1)? {
                    Some((nl, ni)) if ni > dash => self.block((nl, ni), Some(dash), false)?,
                    _ => (self.scalar_node(at, Some(String::new())), at.0 + 1),
                }
            } else {
                self.block(v, Some(dash), false)?
            };
            items.push((self.spot(at), value));
            match self.next_content(next)? {
                Some((nl, ni)) if ni == dash && self.is_dash((nl, ni)) => at = (nl, ni),
                Some((_, ni)) if ni > dash => return None,
                _ => {
                    let node = Node {
                        at: self.spot(p),
                        kind: Kind::Seq(items),
                    };
                    return Some((node, next));
                }
            }
        }
    }
}

mod flow;

#[cfg(test)]
mod tests;
