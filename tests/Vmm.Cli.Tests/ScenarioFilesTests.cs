using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary>Every file in scenarios/ runs through `vmm run` with the repository's plugins.json and meets its expectations.</summary>
public sealed class ScenarioFilesTests
{
    public static TheoryData<string> ScenarioFiles()
    {
        var data = new TheoryData<string>();
        var root = Path.Combine(TestPaths.RepoRoot, "scenarios");
        foreach (var file in Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(TestPaths.RepoRoot, file));
        return data;
    }

    [Theory]
    [MemberData(nameof(ScenarioFiles))]
    public void Run_ScenarioFile_MeetsEveryExpectation(string relativePath)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = Program.Run(["run", "--plugins", Path.Combine(TestPaths.RepoRoot, "plugins.json"), Path.Combine(TestPaths.RepoRoot, relativePath)], stdout, stderr);

        Assert.True(code == 0, $"vmm run {relativePath} exited {code}\n{stdout}\n{stderr}");
    }

    [Fact]
    public void ScenariosFolder_HasScenarioFiles()
        => Assert.True(ScenarioFiles().Count >= 30, "scenarios/ should hold the K/H/P scenario files");
}

/// <summary>Bad input against the repository's own plugins: one message with file, place and fix; exit 2.</summary>
public sealed class RepositoryPluginsBadInputTests
{
    private static (int Code, string Stdout, string Stderr) Run(string json)
    {
        var dir = Path.Combine(Path.GetTempPath(), "vmm-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var file = Path.Combine(dir, "bad.json");
            File.WriteAllText(file, json);
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var code = Program.Run(["run", "--plugins", Path.Combine(TestPaths.RepoRoot, "plugins.json"), file], stdout, stderr);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Run_UnknownThpStrategy_Exits2ListingTheKnownOnes()
    {
        var (code, _, stderr) = Run("""{ "name": "thp", "components": { "thp": "pmd-magic" }, "vms": [ { "name": "td1", "memory": "8M", "thp": true } ], "steps": [] }""");

        Assert.Equal(2, code);
        Assert.Contains("unknown thp 'pmd-magic'; known: lazy-split, no-thp, pmd-poison, split", stderr, StringComparison.Ordinal);
        Assert.Contains("bad.json:1:", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_UnknownMac_Exits2NamingTheOption()
    {
        var (code, _, stderr) = Run("""
            { "name": "mac", "components": { "memory": "tdx-ci" }, "options": { "tdx.mac": "md5" },
              "vms": [ { "name": "td1", "memory": "8M", "protected": true } ], "steps": [] }
            """);

        Assert.Equal(2, code);
        Assert.Contains("unknown MAC \"md5\"", stderr, StringComparison.Ordinal);
        Assert.Contains("bad.json:1:", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_MoreTdsThanPrivateKeyIds_Exits2NamingTheVmAndTheOption()
    {
        var (code, _, stderr) = Run("""
            { "name": "keys", "components": { "memory": "tdx-ci" }, "options": { "tdx.privateKeyIds": 1 },
              "vms": [ { "name": "td1", "memory": "8M", "protected": true }, { "name": "td2", "memory": "8M", "protected": true } ], "steps": [] }
            """);

        Assert.Equal(2, code);
        Assert.Contains("vm 'td2'", stderr, StringComparison.Ordinal);
        Assert.Contains("tdx.privateKeyIds", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}

public sealed class UnknownOptionTests
{
    [Fact]
    public void Run_UnknownOption_Exits2AndPointsAtHelp()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = Program.Run(["run", "--plugins", Path.Combine(TestPaths.RepoRoot, "plugins.json"), "--bogus"], stdout, stderr);

        Assert.Equal(2, code);
        Assert.Contains("--bogus: unknown option", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("--help", stderr.ToString(), StringComparison.Ordinal);
    }
}
