// `k6/x/sql/driver/postgres`: the driver identifier symbol sql.open() takes (xk6-sql-driver-postgres).
export default Symbol.for('statebench.k6.sql.driver.postgres');
