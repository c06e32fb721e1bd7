using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary>What README.md shows of vmm is true: the quoted scenario is the file it names, and every vmm command in it exits 0.</summary>
public sealed partial class ReadmeTests
{
    private const string VmmPrefix = "dotnet run --project hosts/Vmm.Cli -- ";

    private static string Readme => File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));

    [Fact]
    public void Readme_K1Example_IsTheScenarioFile()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "scenarios/kernel/k01-vmm-touch-of-hwpoison-entry.json")))!;
        var quoted = CodeBlocks("json")
            .Select(block => JsonNode.Parse(block))
            .FirstOrDefault(node => node?["name"]?.GetValue<string>() == file["name"]!.GetValue<string>());

        Assert.True(quoted is not null, "README.md should quote scenarios/kernel/k01-vmm-touch-of-hwpoison-entry.json in a ```json block");
        Assert.True(JsonNode.DeepEquals(file, quoted), $"README's K1 example differs from the file:\n{quoted!.ToJsonString()}");
    }

    public static TheoryData<string> VmmCommands()
    {
        var data = new TheoryData<string>();
        foreach (var line in CodeBlocks("sh").SelectMany(block => block.Split('\n')))
        {
            var command = line.Split('#')[0].Trim();
            if (command.StartsWith(VmmPrefix, StringComparison.Ordinal)) data.Add(command[VmmPrefix.Length..]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(VmmCommands))]
    public void Readme_VmmCommand_Exits0(string arguments)
    {
        var (exitCode, stdout, stderr) = ProcessRunner.Run("dotnet", [ProcessRunner.VmmDll, .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

        Assert.True(exitCode == 0, $"vmm {arguments} exited {exitCode}\n{stdout}\n{stderr}");
        if (arguments.Contains("--json", StringComparison.Ordinal)) JsonDocument.Parse(stdout).Dispose();
    }

    private static IEnumerable<string> CodeBlocks(string language) =>
        CodeBlock().Matches(Readme.ReplaceLineEndings("\n")).Where(m => m.Groups[1].Value == language).Select(m => m.Groups[2].Value);

    [GeneratedRegex(@"^```(\w*)\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CodeBlock();
}
