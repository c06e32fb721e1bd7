using System.Globalization;
using Microsoft.Data.Sqlite;
using Vmm.Hosting;

namespace Vmm.Store;

/// <summary>One stored comparison: when, which vmm, its exact configuration (the comparison file's JSON) and what it ran.</summary>
public sealed record StoredRun(
    long Id,
    DateTimeOffset Created,
    string Version,
    int Seed,
    int Repeat,
    string Baseline,
    string? Kernel,
    int Runs,
    IReadOnlyList<string> Stacks,
    IReadOnlyList<string> Workloads,
    string Configuration);

/// <summary>A metric that differs between two stored runs (null where one run lacks that workload, stack or metric).</summary>
public sealed record MetricChange(string Workload, string Stack, string Metric, double? Before, double? After);

/// <summary>Bad input for the store: a file that is not a vmm store, or a run id it does not hold.</summary>
public sealed class StoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A SQLite database of comparisons (<c>vmm compare --store FILE.db</c>): each run appends one row to <c>runs</c>
/// (configuration, seed, version, the JSON report) and a row per workload, stack and metric to <c>results</c>.
/// Opening a file that exists but is not a store is an error, never an overwrite.
/// </summary>
public sealed class ComparisonStore : IDisposable
{
    private const string Application = "vmm-compare-store";
    private const int SchemaVersion = 1;
    private readonly SqliteConnection _connection;

    private ComparisonStore(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Opens <paramref name="path"/>, creating the store when the file does not exist; <paramref name="create"/> false refuses a missing file.</summary>
    public static ComparisonStore Open(string path, bool create = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        var exists = File.Exists(path);
        if (!exists && !create) throw new StoreException($"{path}: no such store; make one with vmm compare --store {path}");
        if (Directory.Exists(path)) throw new StoreException($"{path} is a directory; name a .db file");
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        try
        {
            connection.Open();
            var store = new ComparisonStore(connection, path);
            if (exists && new FileInfo(path).Length > 0) store.CheckSchema();
            else store.CreateSchema();
            return store;
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new StoreException($"{path} is not a vmm store ({e.Message.TrimEnd('.')}); name another file", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Appends a comparison and returns its id.</summary>
    public long Append(ComparisonReport report, string configuration, string version, DateTimeOffset? created = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        using var transaction = _connection.BeginTransaction();
        long id;
        using (var insert = Command("""
            INSERT INTO runs (created, version, seed, repeat, baseline, kernel, runs, stacks, workloads, configuration, report)
            VALUES ($created, $version, $seed, $repeat, $baseline, $kernel, $runs, $stacks, $workloads, $configuration, $report);
            SELECT last_insert_rowid();
            """))
        {
            insert.Parameters.AddWithValue("$created", (created ?? DateTimeOffset.UtcNow).ToString("O", CultureInfo.InvariantCulture));
            insert.Parameters.AddWithValue("$version", version);
            insert.Parameters.AddWithValue("$seed", report.Seed);
            insert.Parameters.AddWithValue("$repeat", report.Repeat);
            insert.Parameters.AddWithValue("$baseline", report.Baseline);
            insert.Parameters.AddWithValue("$kernel", (object?)report.Kernel ?? DBNull.Value);
            insert.Parameters.AddWithValue("$runs", report.Runs);
            insert.Parameters.AddWithValue("$stacks", string.Join("\n", report.Workloads.Count == 0 ? [] : report.Workloads[0].Rows.Select(r => r.Stack)));
            insert.Parameters.AddWithValue("$workloads", string.Join("\n", report.Workloads.Select(w => w.Workload)));
            insert.Parameters.AddWithValue("$configuration", configuration);
            var json = new StringWriter();
            ComparisonExporters.Find("json")!.Export(report, json);
            insert.Parameters.AddWithValue("$report", json.ToString());
            id = (long)insert.ExecuteScalar()!;
        }
        using (var result = Command("INSERT INTO results (run, workload, stack, metric, mean, sd) VALUES ($run, $workload, $stack, $metric, $mean, $sd)"))
        {
            var parameters = new[] { "$run", "$workload", "$stack", "$metric", "$mean", "$sd" }.Select(n => result.Parameters.Add(n, SqliteType.Text)).ToArray();
            parameters[0].SqliteType = SqliteType.Integer;
            parameters[4].SqliteType = parameters[5].SqliteType = SqliteType.Real;
            foreach (var workload in report.Workloads)
            {
                foreach (var row in workload.Rows)
                {
                    foreach (var (metric, value) in row.Metrics.Append(new("Ratio", new MetricValue(row.Ratio ?? double.NaN, 0))))
                    {
                        if (double.IsNaN(value.Mean)) continue;
                        (parameters[0].Value, parameters[1].Value, parameters[2].Value, parameters[3].Value, parameters[4].Value, parameters[5].Value) =
                            (id, workload.Workload, row.Stack, metric, value.Mean, value.StdDev);
                        result.ExecuteNonQuery();
                    }
                }
            }
        }
        transaction.Commit();
        return id;
    }

    /// <summary>The id of a stored run with this very configuration, vmm version and report (the json export), or null: what makes storing a merge idempotent.</summary>
    public long? Find(ComparisonReport report, string configuration, string version)
    {
        ArgumentNullException.ThrowIfNull(report);
        var json = new StringWriter();
        ComparisonExporters.Find("json")!.Export(report, json);
        using var query = Command("SELECT id FROM runs WHERE configuration = $configuration AND version = $version AND report = $report ORDER BY id LIMIT 1");
        query.Parameters.AddWithValue("$configuration", configuration);
        query.Parameters.AddWithValue("$version", version);
        query.Parameters.AddWithValue("$report", json.ToString());
        return query.ExecuteScalar() as long?;
    }

    /// <summary>Every stored run, oldest first.</summary>
    public IReadOnlyList<StoredRun> List()
    {
        using var query = Command("SELECT id, created, version, seed, repeat, baseline, kernel, runs, stacks, workloads, configuration FROM runs ORDER BY id");
        using var reader = query.ExecuteReader();
        var runs = new List<StoredRun>();
        while (reader.Read())
        {
            runs.Add(new StoredRun(
                reader.GetInt64(0),
                DateTimeOffset.Parse(reader.GetString(1), CultureInfo.InvariantCulture),
                reader.GetString(2),
                reader.GetInt32(3),
                reader.GetInt32(4),
                reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetInt32(7),
                reader.GetString(8).Split('\n', StringSplitOptions.RemoveEmptyEntries),
                reader.GetString(9).Split('\n', StringSplitOptions.RemoveEmptyEntries),
                reader.GetString(10)));
        }
        return runs;
    }

    /// <summary>The JSON report of run <paramref name="id"/> (the json export), or a <see cref="StoreException"/> naming the ids there are.</summary>
    public string Report(long id)
    {
        using var query = Command("SELECT report FROM runs WHERE id = $id");
        query.Parameters.AddWithValue("$id", id);
        return query.ExecuteScalar() as string ?? throw Missing(id);
    }

    /// <summary>Every metric whose mean differs between runs <paramref name="before"/> and <paramref name="after"/>, by workload, stack and metric.</summary>
    public IReadOnlyList<MetricChange> Diff(long before, long after)
    {
        var a = Results(before);
        var b = Results(after);
        return a.Keys.Union(b.Keys)
            .Order()
            .Select(key => (key, Before: a.TryGetValue(key, out var x) ? x : (double?)null, After: b.TryGetValue(key, out var y) ? y : (double?)null))
            .Where(c => c.Before != c.After)
            .Select(c => new MetricChange(c.key.Workload, c.key.Stack, c.key.Metric, c.Before, c.After))
            .ToList();
    }

    public void Dispose() => _connection.Dispose();

    private Dictionary<(string Workload, string Stack, string Metric), double> Results(long id)
    {
        using (var exists = Command("SELECT COUNT(*) FROM runs WHERE id = $id"))
        {
            exists.Parameters.AddWithValue("$id", id);
            if ((long)exists.ExecuteScalar()! == 0) throw Missing(id);
        }
        using var query = Command("SELECT workload, stack, metric, mean FROM results WHERE run = $id");
        query.Parameters.AddWithValue("$id", id);
        using var reader = query.ExecuteReader();
        var results = new Dictionary<(string, string, string), double>();
        while (reader.Read()) results[(reader.GetString(0), reader.GetString(1), reader.GetString(2))] = reader.GetDouble(3);
        return results;
    }

    private StoreException Missing(long id)
    {
        var ids = List().Select(r => r.Id).ToList();
        return new StoreException($"{Path} has no run {id}; it has {(ids.Count == 0 ? "none" : string.Join(", ", ids))} (see vmm history --store {Path})");
    }

    private SqliteCommand Command(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private void CreateSchema()
    {
        using var create = Command($"""
            CREATE TABLE store (application TEXT NOT NULL, schema INTEGER NOT NULL);
            INSERT INTO store VALUES ('{Application}', {SchemaVersion});
            CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, version TEXT NOT NULL, seed INTEGER NOT NULL,
                repeat INTEGER NOT NULL, baseline TEXT NOT NULL, kernel TEXT, runs INTEGER NOT NULL, stacks TEXT NOT NULL,
                workloads TEXT NOT NULL, configuration TEXT NOT NULL, report TEXT NOT NULL);
            CREATE TABLE results (
                run INTEGER NOT NULL REFERENCES runs(id), workload TEXT NOT NULL, stack TEXT NOT NULL, metric TEXT NOT NULL,
                mean REAL NOT NULL, sd REAL NOT NULL, PRIMARY KEY (run, workload, stack, metric));
            """);
        create.ExecuteNonQuery();
    }

    private void CheckSchema()
    {
        try
        {
            using var query = Command("SELECT application, schema FROM store");
            using var reader = query.ExecuteReader();
            if (reader.Read() && reader.GetString(0) == Application && reader.GetInt32(1) == SchemaVersion) return;
        }
        catch (SqliteException e)
        {
            throw new StoreException($"{Path} is not a vmm store ({e.Message.TrimEnd('.')}); name another file", e);
        }
        throw new StoreException($"{Path} is not a vmm store of schema {SchemaVersion}; name another file");
    }
}
