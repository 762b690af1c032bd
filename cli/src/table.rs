//! Rows printed as psql's aligned format prints them.

pub fn print(columns: &[String], rows: &[Vec<Option<String>>]) {
    let cell = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            widths[i] = widths[i].max(cell(v).chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!(" {c:<w$} ", w = widths[i]))
            .collect::<Vec<_>>()
            .join("|")
            .trim_end()
            .to_string()
    };
    println!("{}", line(columns.to_vec()));
    println!(
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    for r in rows {
        println!("{}", line(r.iter().map(cell).collect()));
    }
    println!(
        "({} row{})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
}

/// Rows of text values; NULL is `None`.
pub type TextRows = Vec<Vec<Option<String>>>;

/// A query's column names and rows, every value as text (the simple
/// query protocol).
pub fn query_text(
    client: &mut postgres::Client,
    sql: &str,
) -> Result<(Vec<String>, TextRows), postgres::Error> {
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for m in client.simple_query(sql)? {
        match m {
            postgres::SimpleQueryMessage::RowDescription(cols) => {
                columns = cols.iter().map(|c| c.name().to_string()).collect();
            }
            postgres::SimpleQueryMessage::Row(r) => {
                if columns.is_empty() {
                    columns = r.columns().iter().map(|c| c.name().to_string()).collect();
                }
                rows.push((0..r.len()).map(|i| r.get(i).map(String::from)).collect());
            }
            _ => {}
        }
    }
    Ok((columns, rows))
}
