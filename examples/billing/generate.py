"""Generate the legacy billing example's schema and seed for every dialect.

The billing database is the utility's, not fsapp's: its names (CUST_MST, ACCT_NO,
MTR_RDG, BILL_AMT ...) are the kind an old billing system has, and fsapp adapts to
them through named queries (queries/utility.sql), never by changing them.

One description below renders to schema.<dialect>.sql and seed.<dialect>.sql (run
`python examples/billing/generate.py`; tests/store/test_billing.py checks the files
are up to date and loads them into SQLite, PostgreSQL and MariaDB). Load one with:

    fsapp db script examples/billing/schema.sqlite.sql --connection billing
    fsapp db script examples/billing/seed.sqlite.sql --connection billing
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIALECTS = ("sqlite", "postgresql", "mysql", "mssql", "oracle")

# Portable column types -> per dialect. N = national text (names, addresses in Chinese).
TYPES = {
    "sqlite": {"C": "CHAR({n})", "V": "VARCHAR({n})", "N": "VARCHAR({n})", "D": "DECIMAL({p})",
               "DATE": "DATE", "TS": "TIMESTAMP", "INT": "INTEGER"},
    "postgresql": {"C": "CHAR({n})", "V": "VARCHAR({n})", "N": "VARCHAR({n})", "D": "NUMERIC({p})",
                   "DATE": "DATE", "TS": "TIMESTAMP(0)", "INT": "INTEGER"},
    "mysql": {"C": "CHAR({n})", "V": "VARCHAR({n})", "N": "VARCHAR({n})", "D": "DECIMAL({p})",
              "DATE": "DATE", "TS": "DATETIME", "INT": "INT"},
    "mssql": {"C": "CHAR({n})", "V": "VARCHAR({n})", "N": "NVARCHAR({n})", "D": "DECIMAL({p})",
              "DATE": "DATE", "TS": "DATETIME2(0)", "INT": "INT"},
    "oracle": {"C": "CHAR({n})", "V": "VARCHAR2({n})", "N": "NVARCHAR2({n})", "D": "NUMBER({p})",
               "DATE": "DATE", "TS": "TIMESTAMP(0)", "INT": "NUMBER(10)"},
}

# table -> [(column, type, size, constraint)] ; first column is the primary key.
TABLES = {
    "DIST_CD_MST": [("DIST_CD", "C", 4, "PK"), ("DIST_NM", "N", 40, "NN"), ("DIST_NM_EN", "V", 40, "")],
    "CUST_MST": [("CUST_ID", "C", 10, "PK"), ("CUST_NM", "N", 40, "NN"), ("CERT_NO", "V", 18, ""),
                 ("TEL_NO1", "V", 20, ""), ("TEL_NO2", "V", 20, ""), ("REG_DT", "DATE", 0, "NN")],
    "ACCT_MST": [("ACCT_NO", "C", 12, "PK"), ("CUST_ID", "C", 10, "NN"), ("ACCT_TYP", "C", 2, "NN"),
                 ("SVC_ADDR", "N", 100, "NN"), ("DIST_CD", "C", 4, "NN"), ("OPEN_DT", "DATE", 0, "NN"),
                 ("ACCT_STAT", "C", 1, "NN"), ("PRE_BAL", "D", "12,2", "NN")],
    "MTR_MST": [("MTR_NO", "V", 12, "PK"), ("ACCT_NO", "C", 12, "NN"), ("MTR_TYP", "C", 2, "NN"),
                ("INST_DT", "DATE", 0, "NN")],
    "MTR_RDG": [("RDG_SEQ", "INT", 0, "PK"), ("MTR_NO", "V", 12, "NN"), ("RDG_DT", "DATE", 0, "NN"),
                ("PRV_RDG", "D", "12,1", "NN"), ("CUR_RDG", "D", "12,1", "NN"), ("USG_QTY", "D", "10,1", "NN"),
                ("RDG_TYP", "C", 1, "NN")],
    "BILL_HDR": [("BILL_NO", "V", 14, "PK"), ("ACCT_NO", "C", 12, "NN"), ("BILL_YM", "C", 6, "NN"),
                 ("ISSU_DT", "DATE", 0, "NN"), ("DUE_DT", "DATE", 0, "NN"), ("BILL_AMT", "D", "12,2", "NN"),
                 ("LATE_FEE", "D", "10,2", "NN"), ("PAID_AMT", "D", "12,2", "NN"), ("BILL_STAT", "C", 1, "NN")],
    "PAY_TXN": [("TXN_NO", "V", 16, "PK"), ("ACCT_NO", "C", 12, "NN"), ("PAY_DTM", "TS", 0, "NN"),
                ("PAY_AMT", "D", "12,2", "NN"), ("PAY_CHNL", "C", 2, "NN")],
}
INDEXES = [("IX_CUST_TEL1", "CUST_MST", "TEL_NO1"), ("IX_CUST_TEL2", "CUST_MST", "TEL_NO2"),
           ("IX_ACCT_CUST", "ACCT_MST", "CUST_ID"), ("IX_MTR_ACCT", "MTR_MST", "ACCT_NO"),
           ("IX_RDG_MTR", "MTR_RDG", "MTR_NO"), ("IX_BILL_ACCT", "BILL_HDR", "ACCT_NO"),
           ("IX_PAY_ACCT", "PAY_TXN", "ACCT_NO")]

# Demo data. Phone 13800138000 reaches three active accounts (Zhang Wei's home and shop,
# his wife's flat) plus a closed one; Wang Fang's account has three overdue bills.
# Codes: ACCT_TYP 01 residential / 02 commercial; ACCT_STAT A active / C closed;
# BILL_STAT O open / P paid; RDG_TYP A actual / E estimated; PAY_CHNL WX WeChat,
# ZF Alipay, YH bank, GT counter.
ROWS = {
    "DIST_CD_MST": [
        ("D001", "东城区", "Dongcheng"), ("D002", "西城区", "Xicheng"),
        ("D003", "南湖新区", "Nanhu New Area"), ("D004", "北岸工业区", "Beian Industrial Park"),
    ],
    "CUST_MST": [
        ("C000000001", "张伟", "110101198001010011", "13800138000", None, "2015-03-02"),
        ("C000000002", "李娜", "110101198203050022", "13911112222", "13800138000", "2018-06-15"),
        ("C000000003", "王芳", "110102197512120033", "13900139000", None, "2012-09-30"),
        ("C000000004", "北岸精密机械有限公司", None, "075512345678", "13600136000", "2019-01-08"),
        ("C000000005", "陈静", "110103199007070055", "13700137000", None, "2020-04-21"),
    ],
    "ACCT_MST": [
        ("100200300401", "C000000001", "01", "东城区和平里街道3号楼2单元501", "D001", "2015-03-02", "A", "0.00"),
        ("100200300402", "C000000001", "02", "西城区新街口北大街88号底商", "D002", "2017-11-20", "A", "50.00"),
        ("100200300403", "C000000002", "01", "东城区安定门东大街12号院4-302", "D001", "2018-06-15", "A", "12.30"),
        ("100200300404", "C000000001", "01", "东城区和平里街道7号楼1单元101", "D001", "2010-05-05", "C", "0.00"),
        ("100200300501", "C000000003", "01", "南湖新区湖光路16号9-1-1102", "D003", "2012-09-30", "A", "0.00"),
        ("100200300601", "C000000004", "02", "北岸工业区创业大道1号", "D004", "2019-01-08", "A", "1000.00"),
        ("100200300701", "C000000005", "01", "西城区展览路5号院2-601", "D002", "2020-04-21", "A", "35.80"),
    ],
    "MTR_MST": [
        ("WM2015030201", "100200300401", "WM", "2015-03-02"), ("WM2017112001", "100200300402", "WM", "2017-11-20"),
        ("WM2018061501", "100200300403", "WM", "2018-06-15"), ("WM2010050501", "100200300404", "WM", "2010-05-05"),
        ("WM2012093001", "100200300501", "WM", "2012-09-30"), ("WM2019010801", "100200300601", "WM", "2019-01-08"),
        ("WM2020042101", "100200300701", "WM", "2020-04-21"),
    ],
    "MTR_RDG": [
        (1, "WM2015030201", "2026-09-05", "1510.0", "1532.0", "22.0", "A"),
        (2, "WM2015030201", "2026-10-05", "1532.0", "1555.5", "23.5", "A"),
        (3, "WM2015030201", "2026-11-05", "1555.5", "1579.5", "24.0", "A"),
        (4, "WM2017112001", "2026-10-05", "8120.0", "8201.0", "81.0", "A"),
        (5, "WM2017112001", "2026-11-05", "8201.0", "8279.0", "78.0", "E"),
        (6, "WM2018061501", "2026-11-06", "640.0", "652.5", "12.5", "A"),
        (7, "WM2012093001", "2026-08-05", "3301.0", "3334.0", "33.0", "A"),
        (8, "WM2012093001", "2026-09-05", "3334.0", "3368.0", "34.0", "E"),
        (9, "WM2012093001", "2026-10-05", "3368.0", "3399.0", "31.0", "E"),
        (10, "WM2019010801", "2026-11-03", "90215.0", "91420.0", "1205.0", "A"),
        (11, "WM2020042101", "2026-11-04", "402.0", "419.0", "17.0", "A"),
    ],
    "BILL_HDR": [
        ("B2026090401", "100200300401", "202609", "2026-09-08", "2026-10-20", "79.20", "0.00", "79.20", "P"),
        ("B2026100401", "100200300401", "202610", "2026-10-08", "2026-11-20", "84.60", "0.00", "84.60", "P"),
        ("B2026110401", "100200300401", "202611", "2026-11-08", "2026-12-20", "86.40", "0.00", "0.00", "O"),
        ("B2026100402", "100200300402", "202610", "2026-10-08", "2026-11-20", "312.75", "1.56", "0.00", "O"),
        ("B2026110402", "100200300402", "202611", "2026-11-08", "2026-12-20", "298.10", "0.00", "0.00", "O"),
        ("B2026110403", "100200300403", "202611", "2026-11-08", "2026-12-20", "45.00", "0.00", "20.00", "O"),
        ("B2026080501", "100200300501", "202608", "2026-08-08", "2026-09-20", "128.30", "6.42", "0.00", "O"),
        ("B2026090501", "100200300501", "202609", "2026-09-08", "2026-10-20", "131.55", "3.95", "0.00", "O"),
        ("B2026100501", "100200300501", "202610", "2026-10-08", "2026-11-20", "119.90", "0.60", "0.00", "O"),
        ("B2026110601", "100200300601", "202611", "2026-11-08", "2026-12-20", "4520.00", "0.00", "0.00", "O"),
        ("B2026110701", "100200300701", "202611", "2026-11-08", "2026-12-20", "66.60", "0.00", "66.60", "P"),
    ],
    "PAY_TXN": [
        ("T202610180001", "100200300401", "2026-10-18 10:32:11", "79.20", "WX"),
        ("T202611150002", "100200300401", "2026-11-15 20:05:47", "84.60", "ZF"),
        ("T202610190003", "100200300402", "2026-10-19 09:12:00", "300.00", "YH"),
        ("T202611250004", "100200300403", "2026-11-25 18:40:03", "20.00", "WX"),
        ("T202607180005", "100200300501", "2026-07-18 15:27:36", "120.00", "GT"),
        ("T202611100006", "100200300601", "2026-11-10 11:00:00", "4380.00", "YH"),
        ("T202611120007", "100200300701", "2026-11-12 08:15:20", "66.60", "WX"),
    ],
}


def column_sql(dialect: str, name: str, typ: str, size, constraint: str) -> str:
    spec = TYPES[dialect][typ].format(n=size, p=size)
    if constraint == "PK":
        return f"{name} {spec} NOT NULL PRIMARY KEY"
    return f"{name} {spec}{' NOT NULL' if constraint == 'NN' else ''}"


def literal(dialect: str, typ: str, value) -> str:
    if value is None:
        return "NULL"
    if typ in ("INT", "D"):
        return str(value)
    if typ == "DATE":
        return f"DATE '{value}'" if dialect == "oracle" else f"'{value}'"
    if typ == "TS":
        return f"TIMESTAMP '{value}'" if dialect == "oracle" else f"'{value}'"
    text = str(value).replace("'", "''")
    return f"N'{text}'" if typ == "N" and dialect in ("mssql", "oracle") else f"'{text}'"


def schema_sql(dialect: str) -> str:
    suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mysql" else ""
    out = [f"-- Legacy utility billing schema (example), {dialect}. Generated by generate.py."]
    for table, cols in TABLES.items():
        body = ",\n  ".join(column_sql(dialect, *c) for c in cols)
        out.append(f"CREATE TABLE {table} (\n  {body}\n){suffix};")
    out.extend(f"CREATE INDEX {ix} ON {table} ({col});" for ix, table, col in INDEXES)
    return "\n".join(out) + "\n"


def seed_sql(dialect: str) -> str:
    out = [f"-- Demo data for the legacy billing schema, {dialect}. Generated by generate.py."]
    for table, rows in ROWS.items():
        cols = TABLES[table]
        names = ", ".join(c[0] for c in cols)
        for row in rows:
            values = ", ".join(literal(dialect, c[1], v) for c, v in zip(cols, row))
            out.append(f"INSERT INTO {table} ({names}) VALUES ({values});")
    return "\n".join(out) + "\n"


def render() -> dict[Path, str]:
    files = {}
    for d in DIALECTS:
        files[HERE / f"schema.{d}.sql"] = schema_sql(d)
        files[HERE / f"seed.{d}.sql"] = seed_sql(d)
    return files


if __name__ == "__main__":
    for path, text in render().items():
        path.write_text(text, encoding="utf-8")
        print(path.relative_to(HERE.parent.parent))
    sys.exit(0)
