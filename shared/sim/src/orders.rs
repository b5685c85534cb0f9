//! A plain orders file, for a brand trying a program on its own history
//! before adopting us (columns in docs/simulation.md):
//!
//! - JSON lines: one order per line, in the API's order format (`orderId`,
//!   `customerId`, `placedAt`, `status`, `amount`, and optionally
//!   `currency`, `grossAmount`, `lineItems` of `sku`, `category`, `price`,
//!   `quantity`);
//! - CSV with a header row: `orderId,customerId,placedAt,status,amount`
//!   and optionally `currency`, `grossAmount`, and `sku`, `category`,
//!   `price`, `quantity` for one line item per row (consecutive rows of one
//!   order id are one order; its order columns must repeat unchanged).
//!
//! Every order passes the API's own checks (the same decoding, the same
//! limits: ids of 1 to 128 characters, at most 6 decimals, figures up to
//! 10^15, instants from 1970 to 2200); a line that fails is an error naming
//! its line, never a panic.

use serde_json::{Map, Value};
use std::io::{BufRead, Read};
use tier_engine::Order;

/// Longest line accepted (1,000 line items of 128-character ids fit).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct OrdersError {
    /// 1-based; for CSV the header is line 1.
    pub line: u64,
    pub message: String,
}

fn err(line: u64, message: impl Into<String>) -> OrdersError {
    OrdersError {
        line,
        message: message.into(),
    }
}

/// Decodes one order from its JSON text as the API does, and checks it.
pub fn decode_order(json: &str, line: u64) -> Result<Order, OrdersError> {
    let order: Order =
        serde_json::from_str(json).map_err(|e| err(line, format!("not an order: {e}")))?;
    order
        .check()
        .map_err(|e| err(line, format!("order `{}`: {e}", shown(&order.order_id))))?;
    Ok(order)
}

fn shown(text: &str) -> String {
    let mut s: String = text.chars().take(64).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// Reads one line of at most [`MAX_LINE_BYTES`]; None at the end.
fn next_line<R: BufRead>(reader: &mut R, line: u64) -> Result<Option<String>, OrdersError> {
    let mut buf = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|e| err(line, format!("unreadable: {e}")))?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE_BYTES {
        return Err(err(line, format!("longer than {MAX_LINE_BYTES} bytes")));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| err(line, "not UTF-8"))
}

/// Every order of a JSON-lines file, in file order (blank lines skipped).
pub fn read_jsonl<R: BufRead>(mut reader: R) -> impl Iterator<Item = Result<Order, OrdersError>> {
    let mut line = 0u64;
    let mut failed = false;
    std::iter::from_fn(move || loop {
        if failed {
            return None;
        }
        line += 1;
        match next_line(&mut reader, line) {
            Ok(None) => return None,
            Ok(Some(text)) if text.trim().is_empty() => continue,
            Ok(Some(text)) => return Some(decode_order(text.trim_end(), line)),
            Err(e) => {
                failed = true;
                return Some(Err(e));
            }
        }
    })
}

const ORDER_COLUMNS: [(&str, &str, bool); 7] = [
    ("orderId", "orderId", true),
    ("customerId", "customerId", true),
    ("placedAt", "placedAt", true),
    ("status", "status", true),
    ("amount", "amount", true),
    ("currency", "currency", false),
    ("grossAmount", "grossAmount", false),
];
const ITEM_COLUMNS: [&str; 4] = ["sku", "category", "price", "quantity"];

/// Every order of a CSV file (see the module), in file order.
pub fn read_csv<R: Read>(reader: R) -> Result<Vec<Order>, OrdersError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| err(1, format!("no header row: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    for h in headers.iter() {
        let known = ORDER_COLUMNS.iter().any(|(c, _, _)| *c == h.trim())
            || ITEM_COLUMNS.contains(&h.trim());
        if !known {
            return Err(err(1, format!("unknown column `{}`", shown(h))));
        }
    }
    let mut order_cols = Vec::new();
    for (name, field, required) in ORDER_COLUMNS {
        match column(name) {
            Some(i) => order_cols.push((i, field)),
            None if required => return Err(err(1, format!("missing column `{name}`"))),
            None => {}
        }
    }
    let item_cols: Vec<Option<usize>> = ITEM_COLUMNS.iter().map(|c| column(c)).collect();
    let has_items = item_cols.iter().any(Option::is_some);
    if has_items && (item_cols[0].is_none() || item_cols[2].is_none() || item_cols[3].is_none()) {
        return Err(err(
            1,
            "line items need `sku`, `price` and `quantity` columns",
        ));
    }
    let mut orders: Vec<Order> = Vec::new();
    // The order being read: its JSON, its first line and its order columns.
    let mut open: Option<(Map<String, Value>, u64, Vec<String>)> = None;
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line() + 1;
        let more = csv.read_record(&mut record).map_err(|e| {
            let at = e.position().map_or(line, |p| p.line());
            err(at, format!("not CSV: {e}"))
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.as_slice().len() > MAX_LINE_BYTES {
            return Err(err(line, format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let order_values: Vec<String> = order_cols
            .iter()
            .map(|(i, _)| record.get(*i).unwrap_or("").to_owned())
            .collect();
        let continues = has_items
            && open
                .as_ref()
                .is_some_and(|(o, _, _)| o["orderId"] == order_values[0].as_str());
        if continues {
            let (_, first, values) = open.as_ref().expect("an open order");
            if *values != order_values {
                return Err(err(
                    line,
                    format!(
                        "order `{}` continues from line {first} with other order columns",
                        shown(&order_values[0])
                    ),
                ));
            }
        } else {
            if let Some((o, first, _)) = open.take() {
                orders.push(decode_order(&Value::Object(o).to_string(), first)?);
            }
            let mut o = Map::new();
            for ((_, field), value) in order_cols.iter().zip(&order_values) {
                let optional = matches!(*field, "currency" | "grossAmount");
                if value.is_empty() && optional {
                    continue;
                }
                o.insert((*field).to_owned(), Value::String(value.clone()));
            }
            o.insert("lineItems".into(), Value::Array(Vec::new()));
            open = Some((o, line, order_values));
        }
        if has_items {
            let get = |i: usize| item_cols[i].and_then(|c| record.get(c)).unwrap_or("");
            let mut item = Map::new();
            item.insert("sku".into(), Value::String(get(0).to_owned()));
            if !get(1).is_empty() {
                item.insert("category".into(), Value::String(get(1).to_owned()));
            }
            item.insert("price".into(), Value::String(get(2).to_owned()));
            item.insert("quantity".into(), Value::String(get(3).to_owned()));
            if let Some((o, _, _)) = open.as_mut() {
                if let Some(Value::Array(items)) = o.get_mut("lineItems") {
                    if items.len() >= tier_engine::events::MAX_LINE_ITEMS {
                        return Err(err(
                            line,
                            format!(
                                "more than {} line items in one order",
                                tier_engine::events::MAX_LINE_ITEMS
                            ),
                        ));
                    }
                    items.push(Value::Object(item));
                }
            }
        }
    }
    if let Some((o, first, _)) = open.take() {
        orders.push(decode_order(&Value::Object(o).to_string(), first)?);
    }
    Ok(orders)
}
