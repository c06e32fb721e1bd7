using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary>One sweep as the same JSON export, in one process and in N shards merged; what single-process exports of it look like is computed once.</summary>
public sealed class ShardsFixture : IDisposable
{
    internal static readonly string RepositoryPlugins = Path.Combine(TestPaths.RepoRoot, "plugins.json");

    /// <summary>3 workloads × 3 stacks × 2 seeds = 18 runs, small enough to run in a few seconds.</summary>
    internal static readonly string[] Sweep =
    [
        "--workload", "boot,malicious-vmm,memory-errors",
        "--stack", "plain+none", "--stack", "tdx-ci+none", "--stack", "tdx-ci+hwpoison-v2",
        "--repeat", "2",
        "--set", "boot.pages=16", "--set", "malicious-vmm.pages=18", "--set", "memory-errors.pages=16",
    ];

    /// <summary>One workload under two stacks: 2 runs, for the errors.</summary>
    internal static readonly string[] Tiny = ["--workload", "boot", "--stack", "tdx-ci+none", "--stack", "tdx-ci+hwpoison-v2", "--set", "boot.pages=8"];

    private readonly CliHarness _cli = new();

    public ShardsFixture()
    {
        var output = Path.Combine(_cli.Directory, "single");
        var result = Vmm(_cli, ["compare", .. Sweep, "--export", "json,csv", "--output", output]);
        Assert.True(result.ExitCode == 0, result.ToString());
        SingleJson = File.ReadAllBytes(Path.Combine(output, "compare.json"));
        SingleCsv = File.ReadAllBytes(Path.Combine(output, "compare.csv"));
    }

    public byte[] SingleJson { get; }

    public byte[] SingleCsv { get; }

    internal static CliResult Vmm(CliHarness cli, string[] args)
    {
        cli.Machines = null;
        return cli.Vmm([.. args, "--plugins", RepositoryPlugins]);
    }

    public void Dispose() => _cli.Dispose();
}

/// <summary><c>vmm compare --shard I/N</c>, <c>vmm merge</c> and <c>vmm compare --plan</c> with the repository's plugins and the real machine.</summary>
public sealed class ShardsTests(ShardsFixture single) : IClassFixture<ShardsFixture>
{
    private static CliResult Vmm(CliHarness cli, params string[] args) => ShardsFixture.Vmm(cli, args);

    /// <summary>Runs every shard of <paramref name="count"/> in <paramref name="order"/>, shard i into <paramref name="directories"/>[i mod their count].</summary>
    private static void RunShards(CliHarness cli, string[] sweep, int count, IEnumerable<int> order, string[] directories)
    {
        foreach (var index in order)
        {
            var result = Vmm(cli, ["compare", .. sweep, "--shard", $"{index}/{count}", "--output", directories[index % directories.Length]]);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void ShardsMerged_AnyOrder_GiveByteIdenticalJsonAndCsvToOneProcess(int count)
    {
        using var cli = new CliHarness();
        var directories = new[] { Path.Combine(cli.Directory, "node-a"), Path.Combine(cli.Directory, "node-b") };
        var order = Enumerable.Range(0, count).OrderBy(_ => Random.Shared.Next()).ToList();
        var output = Path.Combine(cli.Directory, "merged");

        RunShards(cli, ShardsFixture.Sweep, count, order, directories);
        var merged = Vmm(cli, ["merge", .. directories.Where(Directory.Exists).Reverse(), "--export", "json,csv", "--output", output]);

        Assert.True(merged.ExitCode == 0, $"shards run in the order {string.Join(", ", order)}\n{merged}");
        Assert.True(single.SingleJson.SequenceEqual(File.ReadAllBytes(Path.Combine(output, "compare.json"))), $"compare.json differs; shards run in the order {string.Join(", ", order)}");
        Assert.True(single.SingleCsv.SequenceEqual(File.ReadAllBytes(Path.Combine(output, "compare.csv"))), "compare.csv differs");
        Assert.Contains("3 workloads × 3 stacks × 2 seeds = 18 runs, seed 1, baseline tdx-ci+none", merged.Stdout, StringComparison.Ordinal);
        Assert.Contains($"vmm: merged {count} shard{(count == 1 ? "" : "s")} of 18 runs: ", merged.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Shard_WritesOnlyItsRunsAndSaysHowToMerge()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "results");

        var result = Vmm(cli, ["compare", .. ShardsFixture.Sweep, "--shard", "2/4", "--output", output]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("shard 2/4: 4 of 18 runs, seed 1, ", result.Stdout, StringComparison.Ordinal);
        var file = Path.Combine(output, "compare-shard-2-of-4.json");
        Assert.Equal($"vmm: wrote {file}; when all 4 shards are written, merge them: vmm merge {output}" + Environment.NewLine, result.Stderr);
        Assert.Equal([Path.GetFileName(file)], Directory.GetFiles(output).Select(Path.GetFileName));
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        Assert.Equal([2, 6, 10, 14], document.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("run").GetInt32()));
        Assert.StartsWith("sha256:", document.RootElement.GetProperty("fingerprint").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Merge_MissingShard_NamesItAndExits2()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "results");
        RunShards(cli, ShardsFixture.Tiny, 3, [0, 2], [output]);

        var result = Vmm(cli, "merge", output, "--export", "json", "--output", Path.Combine(cli.Directory, "merged"));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("vmm: shard 1/3 is missing (compare-shard-1-of-3.json); run it with vmm compare --shard 1/3, then merge again" + Environment.NewLine, result.Stderr);
        Assert.Equal("", result.Stdout);
        Assert.False(Directory.Exists(Path.Combine(cli.Directory, "merged")));
    }

    [Fact]
    public void Merge_ShardGivenTwice_NamesBothFilesAndExits2()
    {
        using var cli = new CliHarness();
        var a = Path.Combine(cli.Directory, "a");
        var b = Path.Combine(cli.Directory, "b");
        RunShards(cli, ShardsFixture.Tiny, 2, [0, 1], [a]);
        RunShards(cli, ShardsFixture.Tiny, 2, [1], [b]);

        var result = Vmm(cli, "merge", a, b);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"vmm: shard 1/2 is given twice: {Path.Combine(a, "compare-shard-1-of-2.json")} and {Path.Combine(b, "compare-shard-1-of-2.json")}; keep one" + Environment.NewLine, result.Stderr);
    }

    [Fact]
    public void Merge_ShardOfAnotherComparison_NamesBothFingerprintsAndWhatDiffers()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "results");
        RunShards(cli, ShardsFixture.Tiny, 2, [0], [output]);
        var other = Vmm(cli, ["compare", .. ShardsFixture.Tiny, "--seed", "2", "--shard", "1/2", "--output", output]);
        string Fingerprint(int index)
        {
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, $"compare-shard-{index}-of-2.json")));
            return document.RootElement.GetProperty("fingerprint").GetString()!;
        }

        var result = Vmm(cli, "merge", output);

        Assert.True(other.ExitCode == 0, other.ToString());
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.NotEqual(Fingerprint(0), Fingerprint(1));
        Assert.Equal(
            $"vmm: {Path.Combine(output, "compare-shard-1-of-2.json")} is from another comparison than {Path.Combine(output, "compare-shard-0-of-2.json")}: fingerprint {Fingerprint(1)} against {Fingerprint(0)} (the comparisons differ in seed)" + Environment.NewLine,
            result.Stderr);
    }

    [Fact]
    public void Merge_Twice_GivesTheSameFiles_RefusesToOverwriteWithoutForce_AndStoresOnce()
    {
        using var cli = new CliHarness();
        var shards = Path.Combine(cli.Directory, "results");
        var output = Path.Combine(cli.Directory, "merged");
        var db = Path.Combine(cli.Directory, "runs.db");
        RunShards(cli, ShardsFixture.Tiny, 2, [1, 0], [shards]);
        string[] merge = ["merge", shards, "--export", "md,csv,json", "--output", output, "--store", db];

        var first = Vmm(cli, merge);
        var files = new[] { "compare.md", "compare.csv", "compare.json" }.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(output, f)));
        var refused = Vmm(cli, merge);
        var again = Vmm(cli, [.. merge, "--force"]);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"vmm: stored as run 1 in {db}", first.Stderr, StringComparison.Ordinal);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.StartsWith($"vmm: --export: {Path.Combine(output, "compare.md")} already exists; give --force", refused.Stderr, StringComparison.Ordinal);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.All(files, f => Assert.True(f.Value.SequenceEqual(File.ReadAllBytes(Path.Combine(output, f.Key))), $"{f.Key} differs after merging again"));
        Assert.Equal(first.Stdout, again.Stdout);
        Assert.Contains($"vmm: already stored as run 1 in {db}; not added again", again.Stderr, StringComparison.Ordinal);
        using var store = Store.ComparisonStore.Open(db, create: false);
        Assert.Equal([1L], store.List().Select(r => r.Id));
    }

    [Fact]
    public void Shard_IntoExistingFile_RefusesWithoutForceAndOverwritesWithIt()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "results");
        var file = cli.Write("results/compare-shard-0-of-2.json", "mine");

        var refused = Vmm(cli, ["compare", .. ShardsFixture.Tiny, "--shard", "0/2", "--output", output]);
        var kept = File.ReadAllText(file);
        var forced = Vmm(cli, ["compare", .. ShardsFixture.Tiny, "--shard", "0/2", "--output", output, "--force"]);

        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Equal($"vmm: --shard: {file} already exists; give --force to overwrite it, or another --output" + Environment.NewLine, refused.Stderr);
        Assert.Equal("mine", kept);
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.StartsWith("{", File.ReadAllText(file), StringComparison.Ordinal);
        Assert.Equal([Path.GetFileName(file)], Directory.GetFiles(output).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("3/2", "vmm: --shard 3/2: I counts from 0 to N-1 (0/2 ... 1/2), as SLURM_ARRAY_TASK_ID with --array=0-1 and JOB_COMPLETION_INDEX do; not 3")]
    [InlineData("4/4", "vmm: --shard 4/4: I counts from 0 to N-1 (0/4 ... 3/4)")]
    [InlineData("x", "vmm: --shard: expected I/N, the I-th of N shards counted from 0 (e.g. 0/4 ... 3/4), not \"x\"")]
    [InlineData("1/0", "vmm: --shard 1/0: N is the number of shards, 1 to 1000000, not 0")]
    [InlineData("-1/4", "vmm: --shard: expected I/N")]
    public void Shard_BadValue_OneLineNamingTheFixAndExit2(string shard, string message)
    {
        using var cli = new CliHarness();

        var result = Vmm(cli, ["compare", .. ShardsFixture.Tiny, "--shard", shard, "--output", Path.Combine(cli.Directory, "results")]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith(message, result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(cli.Directory, "results")));
    }

    [Theory]
    [InlineData(new[] { "--shard", "0/2", "--export", "json" }, "vmm: --shard writes one slice of the runs, not a report; drop --export here and give it to vmm merge")]
    [InlineData(new[] { "--shard", "0/2", "--store", "x.db" }, "vmm: --shard writes one slice of the runs, not a report; drop --store here")]
    [InlineData(new[] { "--plan", "--export", "json" }, "vmm: --plan only prints the plan and writes nothing; drop --export")]
    [InlineData(new[] { "--plan", "--shard", "0/2" }, "vmm: --plan only prints the plan and writes nothing; drop --shard")]
    public void ShardOrPlan_WithReportOptions_SaysWhereTheyBelong(string[] args, string message)
    {
        using var cli = new CliHarness();

        var result = Vmm(cli, ["compare", .. ShardsFixture.Tiny, .. args]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith(message, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Shard_WithNoRuns_StillRejectsABadOptionAsTheOthersDo()
    {
        using var cli = new CliHarness();
        string[] sweep = ["compare", "--workload", "boot", "--stack", "tdx-ci+none", "--set", "boot.pages=0", "--output", Path.Combine(cli.Directory, "results")];

        var withRun = Vmm(cli, [.. sweep, "--shard", "0/2"]);
        var without = Vmm(cli, [.. sweep, "--shard", "1/2"]);

        Assert.True(without.ExitCode == 2, without.ToString());
        Assert.Equal("vmm: option \"boot.pages\": pages must be 1 or more, not 0" + Environment.NewLine, without.Stderr);
        Assert.Equal(withRun.Stderr, without.Stderr);
    }

    [Fact]
    public void Merge_EmptyDirectoryOrNoSuchPath_SaysWhatWritesShardFiles()
    {
        using var cli = new CliHarness();
        var empty = Path.Combine(cli.Directory, "empty");
        Directory.CreateDirectory(empty);

        var result = Vmm(cli, "merge", empty);
        var missing = Vmm(cli, "merge", Path.Combine(cli.Directory, "nosuch"));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"vmm: {empty} holds no shard files (compare-shard-I-of-N.json); vmm compare --shard I/N --output {empty} writes them" + Environment.NewLine, result.Stderr);
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Equal($"vmm: {Path.Combine(cli.Directory, "nosuch")}: no such directory or file" + Environment.NewLine, missing.Stderr);
    }

    [Fact]
    public void Merge_TruncatedShardFile_IsBadInputNamingTheFile()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "results");
        RunShards(cli, ShardsFixture.Tiny, 2, [0, 1], [output]);
        var file = Path.Combine(output, "compare-shard-1-of-2.json");
        File.WriteAllText(file, File.ReadAllText(file)[..200]);

        var result = Vmm(cli, "merge", output);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"vmm: {file}:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("not valid JSON, so not a whole shard file", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_PrintsRunsStepsEstimateAndSuggestedShards_AndWritesNothing()
    {
        using var cli = new CliHarness();
        var before = Directory.GetFileSystemEntries(cli.Directory);

        var result = Vmm(cli, ["compare", .. ShardsFixture.Sweep, "--plan"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("3 workloads × 3 stacks × 2 seeds = 18 runs, ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("estimated cost: ", result.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"\nboot +6 +\d+ +\d+\.\d{3} +\d", result.Stdout);
        Assert.Matches(@"\n +1 +18 +[\d.]+  \(suggested\)\n +2 +9 ", result.Stdout);
        Assert.Contains("suggested: 1 shard; the whole comparison is under 10 minutes", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("", result.Stderr);
        Assert.Equal(before, Directory.GetFileSystemEntries(cli.Directory));
    }

    [Fact]
    public void ShardAndMerge_InTerminal_ShowNoStackTraceAndTheTables()
    {
        using var cli = new CliHarness();
        cli.Machines = null;
        var output = Path.Combine(cli.Directory, "results");

        var shard0 = cli.VmmInTerminal(["compare", .. ShardsFixture.Tiny, "--shard", "0/2", "--output", output, "--plugins", ShardsFixture.RepositoryPlugins]);
        var shard1 = cli.VmmInTerminal(["compare", .. ShardsFixture.Tiny, "--shard", "1/2", "--output", output, "--plugins", ShardsFixture.RepositoryPlugins]);
        var merged = cli.VmmInTerminal("merge", output, "--plugins", ShardsFixture.RepositoryPlugins);

        Assert.True(shard0.ExitCode == 0 && shard1.ExitCode == 0, shard0 + "\n" + shard1);
        Assert.StartsWith("shard 1/2: 1 of 2 runs", shard1.PlainStdout, StringComparison.Ordinal);
        Assert.True(merged.ExitCode == 0, merged.ToString());
        Assert.Contains("baseline", merged.PlainStdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", shard0.Stdout + shard0.Stderr + merged.Stdout + merged.Stderr, StringComparison.Ordinal);
    }
}
