using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>Where a piece of test JSON stands, so tests can assert an error's line and column by naming the text it points at.</summary>
internal static class ScenarioTestText
{
    /// <summary>The 1-based line and column of the first <paramref name="marker"/> in <paramref name="json"/> (ASCII text).</summary>
    public static SourceLocation At(string json, string marker, int occurrence = 1)
    {
        var index = -1;
        for (var i = 0; i < occurrence; i++)
        {
            index = json.IndexOf(marker, index + 1, StringComparison.Ordinal);
            Assert.True(index >= 0, $"marker {marker} (occurrence {occurrence}) not in the test JSON");
        }
        var lineStart = json.LastIndexOf('\n', Math.Max(index - 1, 0)) + 1;
        if (index == 0) lineStart = 0;
        var line = json[..index].Count(c => c == '\n') + 1;
        return new SourceLocation(ScenarioJson.FileName, line, index - lineStart + 1);
    }

    /// <summary>A scenario with one 8M shmem VM "vm1" (so it has a backing file) and the given steps, one per line.</summary>
    public static string OnShmem(params string[] steps) =>
        "{ \"name\": \"t\",\n  \"vms\": [ { \"name\": \"vm1\", \"memory\": \"8M\" } ],\n  \"steps\": [\n    "
        + string.Join(",\n    ", steps) + "\n  ] }";

    /// <summary>A scenario with the given host and VMs lines and no steps.</summary>
    public static string WithVms(string vms, string host = "") =>
        "{ \"name\": \"t\",\n  " + (host.Length > 0 ? $"\"host\": {{ \"memory\": {host} }},\n  " : "") + $"\"vms\": [\n    {vms}\n  ],\n  \"steps\": [] }}";
}
