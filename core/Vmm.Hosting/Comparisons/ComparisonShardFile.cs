using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Vmm.Abstractions;

namespace Vmm.Hosting;

/// <summary>
/// A shard's output, <c>compare-shard-I-of-N.json</c> (docs/shards.md): the comparison it belongs to (the comparison
/// file's JSON, and a <see cref="Fingerprint"/> of that JSON and the engine that ran it), I and N, and every run's raw
/// result, with doubles written so that they read back bit for bit.
/// </summary>
public sealed record ComparisonShardFile(string Fingerprint, string Engine, string Comparison, ComparisonShardResult Result)
{
    /// <summary>What the file's "format" property says; a file without it is not a shard file.</summary>
    public const string Format = "vmm-compare-shard/1";

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The file a shard writes into its --output directory.</summary>
    public static string FileName(ComparisonShard shard) => $"compare-shard-{shard.Index}-of-{shard.Count}.json";

    /// <summary>"sha256:" and the hex SHA-256 of the comparison's JSON, a newline and the engine: equal only for the same runs by the same code.</summary>
    public static string FingerprintOf(string comparisonJson, string engine)
    {
        ArgumentNullException.ThrowIfNull(comparisonJson);
        ArgumentNullException.ThrowIfNull(engine);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(comparisonJson + "\n" + engine)));
    }

    /// <summary>The code that produces the results: vmm's version (with its commit) and every loaded plugin's name and version.</summary>
    public static string EngineOf(VmmHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var version = typeof(VmmHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        return $"vmm {version}; plugins {string.Join(", ", host.Plugins.Select(p => $"{p.Name} {p.Version ?? "?"}"))}";
    }

    /// <summary>The shard file of <paramref name="result"/>, a shard of <paramref name="comparison"/> run by <paramref name="engine"/>.</summary>
    public static ComparisonShardFile Of(Comparison comparison, ComparisonShardResult result, string engine)
    {
        var json = ComparisonFile.ToJson(comparison);
        return new ComparisonShardFile(FingerprintOf(json, engine), engine, json, result);
    }

    public void Write(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var document = new Dictionary<string, object?>
        {
            ["format"] = Format,
            ["fingerprint"] = Fingerprint,
            ["engine"] = Engine,
            ["shard"] = Result.Shard.Index,
            ["shards"] = Result.Shard.Count,
            ["runs"] = Result.TotalRuns,
            ["wallSeconds"] = Result.WallTime.TotalSeconds,
            ["comparison"] = JsonNode.Parse(Comparison),
            ["results"] = Result.Results.Select(r => new
            {
                run = r.Run,
                workload = r.Workload,
                stack = r.Stack,
                seed = r.Seed,
                steps = r.Steps,
                wallMs = r.WallMilliseconds,
                metrics = r.Metrics,
                modelledNsByKind = r.ModelledNanosecondsByKind,
            }),
        };
        output.Write(JsonSerializer.Serialize(document, Options));
        output.Write('\n');
    }

    /// <summary>Reads a shard file; a <see cref="ComparisonException"/> names the file and what is wrong with it.</summary>
    public static ComparisonShardFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ComparisonException($"{path}: cannot read the shard file ({e.Message})", e);
        }
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != Format)
                throw new ComparisonException($"{path}: not a shard file of this vmm (its \"format\" is not \"{Format}\"); vmm compare --shard I/N writes them");
            var shard = new ComparisonShard(Integer(root, "shard"), Integer(root, "shards"));
            if (shard.Count is < 1 or > ComparisonShard.MaxCount || shard.Index < 0 || shard.Index >= shard.Count)
                throw new ComparisonException($"{path}: \"shard\" {shard.Index} of \"shards\" {shard.Count} is not a shard (0 ≤ shard < shards)");
            var total = Integer(root, "runs");
            var comparison = Property(root, "comparison", JsonValueKind.Object);
            var results = new List<ComparisonRunResult>();
            foreach (var run in Property(root, "results", JsonValueKind.Array).EnumerateArray())
            {
                results.Add(new ComparisonRunResult(
                    Integer(run, "run"),
                    Property(run, "workload", JsonValueKind.String).GetString()!,
                    Property(run, "stack", JsonValueKind.String).GetString()!,
                    Integer(run, "seed"),
                    Numbers(run, "metrics"),
                    NumberProperty(run, "wallMs"),
                    Integer(run, "steps"),
                    Numbers(run, "modelledNsByKind")));
            }
            var expected = shard.Runs(total);
            if (!results.Select(r => r.Run).SequenceEqual(expected))
                throw new ComparisonException($"{path}: holds runs {Runs(results.Select(r => r.Run))} where shard {shard} of {total} runs has {Runs(expected)} (a damaged or edited file; run the shard again)");
            var wall = TimeSpan.FromSeconds(NumberProperty(root, "wallSeconds"));
            return new ComparisonShardFile(
                Property(root, "fingerprint", JsonValueKind.String).GetString()!,
                Property(root, "engine", JsonValueKind.String).GetString()!,
                JsonNode.Parse(comparison.GetRawText())!.ToJsonString(ScenarioWriter.Indented),
                new ComparisonShardResult(shard, total, results, wall));
        }
        catch (JsonException e)
        {
            throw new ComparisonException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON, so not a whole shard file (was its shard stopped while writing?)", e);
        }
        catch (MissingProperty e)
        {
            throw new ComparisonException($"{path}: {e.Message} (a damaged or edited shard file; run the shard again)", e);
        }
    }

    private static JsonElement Property(JsonElement element, string name, JsonValueKind kind) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == kind
            ? value
            : throw new MissingProperty($"\"{name}\" is missing or not a{(kind == JsonValueKind.Array ? "n" : "")} {kind.ToString().ToLowerInvariant()}");

    private static int Integer(JsonElement element, string name) =>
        Property(element, name, JsonValueKind.Number).TryGetInt32(out var value) ? value : throw new MissingProperty($"\"{name}\" is not a whole number");

    private static double NumberProperty(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? Number(value, name) : throw new MissingProperty($"\"{name}\" is missing");

    /// <summary>A number as written, or NaN and the infinities, which JSON has no numbers for, as the strings "NaN", "Infinity", "-Infinity".</summary>
    private static double Number(JsonElement element, string name)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out var number)) return number;
        if (element.ValueKind == JsonValueKind.String && element.GetString() is "NaN" or "Infinity" or "-Infinity")
            return JsonSerializer.Deserialize<double>(element.GetRawText(), Options);
        throw new MissingProperty($"\"{name}\" is not a number: {element.GetRawText()}");
    }

    private static Dictionary<string, double> Numbers(JsonElement element, string name)
    {
        var numbers = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var property in Property(element, name, JsonValueKind.Object).EnumerateObject())
            numbers[property.Name] = Number(property.Value, $"{name}.{property.Name}");
        return numbers;
    }

    /// <summary>"0, 4, 8" or "none".</summary>
    private static string Runs(IEnumerable<int> runs)
    {
        var list = runs.Take(6).Select(r => r.ToString(CultureInfo.InvariantCulture)).ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list.Take(5)) + (list.Count > 5 ? ", ..." : "");
    }

    private sealed class MissingProperty(string message) : Exception(message);
}
