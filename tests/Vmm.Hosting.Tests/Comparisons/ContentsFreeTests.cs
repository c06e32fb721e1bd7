using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Core.Comparisons;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests.Comparisons;

/// <summary>
/// Contents-free runs (memory.contents "none") with the repository's plugins: the default comparison and every scenario
/// file give the normal run's costs, outcomes and non-data metrics exactly; what needs the bytes is reported as not available.
/// </summary>
public sealed class ContentsFreeTests
{
    private static string PluginsJson => Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static readonly KeyValuePair<string, string> ContentsFree = new("memory.contents", "none");

    private static string Export(string name, ComparisonReport report)
    {
        var writer = new StringWriter();
        ComparisonExporters.Find(name)!.Export(report, writer);
        return writer.ToString();
    }

    [Fact]
    public void DefaultComparison_ContentsFree_HasEveryCostAndNonDataMetricOfTheNormalOne_AndTheDataMetricsNotAvailable()
    {
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);
        var comparison = runner.Default();

        var full = runner.Run(comparison);
        var free = runner.Run(comparison with { Options = [.. comparison.Options, ContentsFree] });

        var data = RunMetrics.Definitions.Where(d => d.NeedsContents).Select(d => d.Name).ToList();
        Assert.Equal([RunMetrics.PlaintextBytes, RunMetrics.SilentCorruptions, RunMetrics.CrossVm, RunMetrics.KvmPlaintext], data);
        Assert.Equal(full.Workloads.Select(w => w.Workload), free.Workloads.Select(w => w.Workload));
        var counted = 0.0;
        foreach (var (fullTable, freeTable) in full.Workloads.Zip(free.Workloads))
        {
            foreach (var (a, b) in fullTable.Rows.Zip(freeTable.Rows))
            {
                Assert.Equal(a.Stack, b.Stack);
                foreach (var metric in RunMetrics.Definitions)
                {
                    if (metric.NeedsContents)
                    {
                        Assert.True(double.IsNaN(b.Metrics[metric.Name].Mean), $"{fullTable.Workload} {b.Stack} {metric.Name}: {b.Metrics[metric.Name].Mean}");
                        counted += a.Metrics[metric.Name].Mean;
                    }
                    else Assert.True(a.Metrics[metric.Name] == b.Metrics[metric.Name], $"{fullTable.Workload} {a.Stack} {metric.Name}: {a.Metrics[metric.Name]} with bytes, {b.Metrics[metric.Name]} contents-free");
                }
                Assert.Equal(a.Ratio, b.Ratio);
                Assert.Equal(a.Steps, b.Steps);
                Assert.Equal(a.ModelledNanosecondsByKind, b.ModelledNanosecondsByKind);
            }
        }
        // The normal run does count data-dependent things, so "not available" hides real numbers, not zeros.
        Assert.True(counted > 0);

        var json = JsonDocument.Parse(Export("json", free)).RootElement;
        Assert.True(json.GetProperty("contentsFree").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("workloads")[0].GetProperty("stacks")[0].GetProperty("metrics").GetProperty(RunMetrics.PlaintextBytes).GetProperty("mean").ValueKind);
        Assert.False(JsonDocument.Parse(Export("json", full)).RootElement.TryGetProperty("contentsFree", out _));
        Assert.Contains(",n/a,n/a,", Export("csv", free), StringComparison.Ordinal);
        Assert.DoesNotContain("n/a", Export("csv", full), StringComparison.Ordinal);
        var tables = ComparisonTables.From(free, wallTime: false);
        Assert.All(tables, t => Assert.Contains(t.Legend, l => l.StartsWith("n/a: not available", StringComparison.Ordinal)));
        Assert.Contains(", contents-free", ComparisonTables.Summary(free, wallTime: false), StringComparison.Ordinal);
        Assert.DoesNotContain("contents-free", ComparisonTables.Summary(full, wallTime: false), StringComparison.Ordinal);

        // Claims decided on data are not measured; the others get the normal run's verdicts; no conclusion speaks of data.
        var fullClaims = full.Claims.ToDictionary(c => c.Id);
        foreach (var claim in free.Claims)
        {
            if (claim.Id is "foll-allow-poisoned" or "prealloc-needs-conversion" or "struct-page-one-guest")
                Assert.True(claim.Status == ClaimStatus.NotMeasured && claim.Evidence.Contains("contents-free", StringComparison.Ordinal), $"{claim.Id}: {claim.StatusText}, {claim.Evidence}");
            else Assert.Equal(fullClaims[claim.Id], claim);
        }
        Assert.NotEqual(ClaimStatus.NotMeasured, fullClaims["prealloc-needs-conversion"].Status);
        Assert.All(free.Conclusions, line => Assert.DoesNotContain("plaintext", line, StringComparison.Ordinal));
        Assert.All(free.Conclusions, line => Assert.DoesNotContain("silent corruptions", line, StringComparison.Ordinal));
        Assert.Contains(full.Conclusions, line => line.Contains("plaintext", StringComparison.Ordinal));
        Assert.Equal(full.Conclusions.Where(l => l.Contains("modelled time", StringComparison.Ordinal)), free.Conclusions.Where(l => l.Contains("modelled time", StringComparison.Ordinal)));
    }

    public static TheoryData<string> ScenarioFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "scenarios"), "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(TestPaths.RepoRoot, file).Replace('\\', '/'));
        return data;
    }

    [Theory]
    [MemberData(nameof(ScenarioFiles))]
    public void ScenarioFile_ContentsFree_GivesTheSameOutcomesAndLedger_ExceptTheData(string file)
    {
        using var host = VmmHost.Load(PluginsJson);
        var scenario = host.Parse(Path.Combine(TestPaths.RepoRoot, file));
        var options = new Dictionary<string, (JsonElement, SourceLocation)>(scenario.Options, StringComparer.Ordinal)
        {
            ["memory.contents"] = (JsonSerializer.SerializeToElement("none"), new SourceLocation(file, 0, 0)),
        };

        var full = host.Run(scenario);
        var free = host.Run(scenario with { Options = options });

        Assert.False(full.ContentsFree);
        Assert.True(free.ContentsFree);
        Assert.Equal(full.Costs, free.Costs);
        Assert.Equal(full.ModelledNanoseconds, free.ModelledNanoseconds);
        Assert.Equal(full.PeakFramesInUse, free.PeakFramesInUse);
        Assert.Equal(full.Steps.Count, free.Steps.Count);
        foreach (var (a, b) in full.Steps.Zip(free.Steps))
        {
            Assert.True(WithoutData(a.Actual) == WithoutData(b.Actual), $"step {a.Index} ({a.Op}): {WithoutData(a.Actual)} with bytes, {WithoutData(b.Actual)} contents-free");
            Assert.Equal(a.Expected?.Data is not null, b.DataNotChecked);
            Assert.False(a.DataNotChecked);
            // Only a data comparison can fail where the normal run passes.
            Assert.True(b.Passed || !a.Passed, $"step {a.Index} ({a.Op}) passes with bytes and fails contents-free");
        }
        Assert.Equal(full.Passed, free.Passed);
        var notChecked = free.Steps.Count(s => s.DataNotChecked);
        Assert.Equal(notChecked > 0, free.Warnings.Any(w => w.StartsWith("contents-free run", StringComparison.Ordinal) && w.Contains($"of {notChecked} step", StringComparison.Ordinal)));
    }

    [Fact]
    public void CopyOnWrite_OfAWrittenPage_ContentsFree_CopiesAndCountsAsWithBytes_AndAnUnwrittenOneNeither()
    {
        using var host = VmmHost.Load(PluginsJson);
        // The VMM writes one of two pages, forks, then writes both: only the page with contents is copied (wp_page_copy counts pageCopy for it).
        var scenario = ScenarioParser.Parse("""
            {
              "name": "cow", "components": { "memory": "plain", "policy": "none" },
              "vms": [ { "name": "vm1", "memory": "8M", "backing": "anon" } ],
              "steps": [
                { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x01" },
                { "op": "host.read", "vm": "vm1", "gpa": "0x2000", "len": 1 },
                { "op": "host.fork" },
                { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x02" },
                { "op": "host.write", "vm": "vm1", "gpa": "0x2000", "data": "0x03" }
              ]
            }
            """, "cow.json");
        var options = new Dictionary<string, (JsonElement, SourceLocation)>(StringComparer.Ordinal)
        {
            ["memory.contents"] = (JsonSerializer.SerializeToElement("none"), new SourceLocation("cow.json", 0, 0)),
        };

        var full = host.Run(scenario);
        var free = host.Run(scenario with { Options = options });

        Assert.All(full.Steps, s => Assert.Equal(OutcomeKind.Ok, s.Actual.Kind));
        Assert.Equal(1, full.Costs[nameof(CostKind.PageCopy)]);
        Assert.Equal(full.Costs, free.Costs);
    }

    private static string WithoutData(Outcome outcome)
    {
        var json = JsonDocument.Parse(OutcomeJson.ToJson(outcome)).RootElement;
        if (json.ValueKind != JsonValueKind.Object || !json.TryGetProperty("ok", out var ok) || ok.ValueKind != JsonValueKind.Object) return json.GetRawText();
        return string.Join(",", ok.EnumerateObject().Where(p => p.Name != "data").Select(p => $"{p.Name}={p.Value.GetRawText()}"));
    }
}
