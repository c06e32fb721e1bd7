using System.Diagnostics;
using System.Reflection;
using Vmm.Hosting;
using Vmm.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Vmm.Cli.Tests;

/// <summary>Runs only with VMM_KIT_E2E=1: the end-to-end test packs, builds and installs for several minutes (docs/plugin-kit.md).</summary>
public sealed class PluginKitFactAttribute : FactAttribute
{
    public const string Variable = "VMM_KIT_E2E";

    public PluginKitFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
            Skip = $"packs the kit and builds a plugin outside the repository for several minutes; run it with {Variable}=1 (docs/plugin-kit.md)";
    }
}

/// <summary>
/// A plugin author's path, outside the repository: pack the kit into a temporary folder, install the templates from it
/// (a private template hive), create a plugin, build it against the packed packages only, install vmm as a tool from the
/// same folder, run the plugin's scenario through it (found through the plugin's own plugins.json) and its conformance tests.
/// NuGet's package cache and the dotnet home are temporary too, so the packages cannot come from an earlier run.
/// </summary>
public sealed class PluginKitEndToEndTests(ITestOutputHelper output)
{
    private static string PackageVersion => typeof(VmmHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    [PluginKitFact]
    public void NewPlugin_BuiltAgainstThePackedKit_LoadsThroughItsPluginsJson_RunsItsScenario_AndPassesTheConformanceSuite()
    {
        using var scratch = new ScratchDirectory();
        var root = scratch.Path;
        var packages = Path.Combine(root, "packages");
        var hive = Path.Combine(root, "hive");
        var work = Path.Combine(root, "work");
        var plugin = Path.Combine(work, "Guard");
        var tools = Path.Combine(root, "tools");
        var elsewhere = Path.Combine(root, "elsewhere");
        foreach (var directory in new[] { work, elsewhere }) Directory.CreateDirectory(directory);
        var environment = new Dictionary<string, string>
        {
            ["NUGET_PACKAGES"] = Path.Combine(root, "nuget"),
            ["DOTNET_CLI_HOME"] = Path.Combine(root, "home"),
            ["MSBUILDDISABLENODEREUSE"] = "1",
        };
        var total = Stopwatch.StartNew();

        // As the README packs (one build of the solution's packable projects), in Debug so that it reuses the test build.
        Succeeds(TestPaths.RepoRoot, "dotnet", "pack", "Vmm.sln", "-c", "Debug", $"-p:PackageOutputPath={packages}/");
        Assert.All(new[] { "Vmm.Abstractions", "Vmm.Core", "Vmm.Hosting", "Vmm.Testing", "Vmm.Templates", "vmm" },
            id => Assert.True(File.Exists(Path.Combine(packages, $"{id}.{PackageVersion}.nupkg")), $"{id} {PackageVersion} was not packed"));

        // The packed folder first, then the packages this machine already has (xunit, the test SDK, McMaster): nothing of the repository.
        var machine = new[] { Environment.GetEnvironmentVariable("NUGET_PACKAGES"), Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), "/opt/nuget/packages" }
            .Where(d => !string.IsNullOrEmpty(d) && Directory.Exists(d)).Distinct().ToList();
        var nugetConfig = Path.Combine(work, "nuget.config");
        File.WriteAllText(nugetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="vmm" value="{packages}" />
            {string.Join("\n", machine.Select((d, i) => $"    <add key=\"machine{i}\" value=\"{d}\" />"))}
              </packageSources>
            </configuration>
            """);

        Succeeds(work, "dotnet", "new", "install", Path.Combine(packages, $"Vmm.Templates.{PackageVersion}.nupkg"), "--debug:custom-hive", hive);
        Succeeds(work, "dotnet", "new", "vmm-plugin", "-n", "Guard", "-o", plugin, "--debug:custom-hive", hive);
        Assert.True(File.Exists(Path.Combine(plugin, "plugins.json")));
        Assert.True(File.Exists(Path.Combine(plugin, "scenarios", "Guard-policy.json")));

        Succeeds(plugin, "dotnet", "build", "Guard.Tests");
        var built = Path.Combine(plugin, "Guard", "bin", "Debug", "net10.0");
        Assert.True(File.Exists(Path.Combine(built, "Guard.dll")));
        // The package's buildTransitive rules: the host's shared assemblies are never copied next to the plugin.
        Assert.False(File.Exists(Path.Combine(built, "Vmm.Abstractions.dll")), $"{built} holds Vmm.Abstractions.dll");
        Assert.False(File.Exists(Path.Combine(built, "Microsoft.Extensions.DependencyInjection.Abstractions.dll")), $"{built} holds Microsoft.Extensions.DependencyInjection.Abstractions.dll");
        Assert.True(File.Exists(Path.Combine(plugin, "Guard.Tests", "bin", "Debug", "net10.0", "vmm-plugins", "plugins.json")), "Vmm.Testing did not copy the built-in plugins beside the tests");

        Succeeds(work, "dotnet", "tool", "install", "vmm", "--tool-path", tools, "--version", PackageVersion, "--configfile", nugetConfig);
        var vmm = Path.Combine(tools, OperatingSystem.IsWindows() ? "vmm.exe" : "vmm");

        var inPlugin = Succeeds(plugin, vmm, "run", "scenarios");
        Assert.Contains("1 scenarios, 1 passed, 0 failed", inPlugin, StringComparison.Ordinal);
        var fromElsewhere = Succeeds(elsewhere, vmm, "run", Path.Combine(plugin, "scenarios"));
        Assert.Contains("policy guard", fromElsewhere, StringComparison.Ordinal);
        var listed = Succeeds(elsewhere, vmm, "plugins", "--plugins", Path.Combine(plugin, "plugins.json"));
        Assert.Contains("Guard", listed, StringComparison.Ordinal);
        Assert.Contains("Baseline", listed, StringComparison.Ordinal);
        Succeeds(elsewhere, vmm, "compare", "--workload", "boot");

        var tests = Succeeds(plugin, "dotnet", "test", "Guard.Tests", "--no-build", "--logger", "console;verbosity=normal");
        Assert.Contains("GuardPolicyConformance.PrivatePage_IsNeverReadAsPlaintext_ByTheVmm", tests, StringComparison.Ordinal);
        Assert.Contains("Scenario_MeetsEveryExpectation", tests, StringComparison.Ordinal);
        Assert.Contains("Test Run Successful.", tests, StringComparison.Ordinal);
        Assert.Matches(@"Total tests: (\d+)\s+Passed: \1\b", tests);
        output.WriteLine($"total {total.Elapsed.TotalSeconds:0} s");

        string Succeeds(string directory, string program, params string[] arguments)
        {
            var (exitCode, text, elapsed) = Run(directory, program, arguments, environment);
            output.WriteLine($"{elapsed.TotalSeconds,6:0.0} s  {Path.GetFileName(program)} {string.Join(' ', arguments)}");
            Assert.True(exitCode == 0, $"{program} {string.Join(' ', arguments)} (in {directory}) exited {exitCode}:\n{text}");
            return text;
        }
    }

    private static (int ExitCode, string Output, TimeSpan Elapsed) Run(string directory, string program, string[] arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in 15 minutes");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult(), clock.Elapsed);
    }
}
