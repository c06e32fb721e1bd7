using System.Text.Json;
using System.Xml.Linq;
using Vmm.Abstractions;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

/// <summary>The repository's plugins.json: every plugin loads through McMaster from its build output and registers its components.</summary>
public sealed class RepositoryPluginsTests
{
    private static string PluginsJson => Path.Combine(TestPaths.RepoRoot, "plugins.json");

    [Fact]
    public void Load_RepositoryPluginsJson_RegistersEveryPluginsComponents()
    {
        using var host = VmmHost.Load(PluginsJson);

        var names = host.Components.Select(c => $"{c.Kind.Key()} {c.Name} ({c.Supplier})").ToHashSet();
        Assert.Contains("memory plain (Baseline)", names);
        Assert.Contains("policy none (Baseline)", names);
        Assert.Contains("policy prot-none (Baseline)", names);
        Assert.Contains("faults linux (Baseline)", names);
        Assert.Contains("pagetable x86-64 (core)", names);
        Assert.Contains("memory tdx-ci (Tdx)", names);
        Assert.Contains("memory tdx-li (Tdx)", names);
        Assert.Contains("memory mktme (Tdx)", names);
        Assert.Contains("policy hwpoison-v1 (HwPoison)", names);
        Assert.Contains("policy hwpoison-v2 (HwPoison)", names);
        Assert.Contains("thp split (Thp)", names);
        Assert.Contains("thp no-thp (Thp)", names);
        Assert.All(host.Components, c => Assert.False(string.IsNullOrWhiteSpace(c.Description), $"{c.Name} has no description"));
    }

    [Fact]
    public void Validate_OptionOfAComponentTheRunDoesNotUse_IsValidWithAWarningAtTheOption()
    {
        using var scratch = new ScratchDirectory();
        using var host = VmmHost.Load(PluginsJson);
        var file = scratch.Write("unused.json", "{ \"name\": \"n\", \"components\": { \"memory\": \"plain\" },\n  \"options\": { \"tdx.mac\": \"sha3\" }, \"steps\": [] }");

        var result = host.Validate(file);

        Assert.True(result.IsValid);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal($"{file}:2:16: warning: option \"tdx.mac\" has no effect: \"tdx\" options are for memory tdx-ci, tdx-li, and this run uses memory plain", warning.ToString());
    }

    [Fact]
    public void Validate_BadOptionOfAComponentTheRunDoesNotUse_IsInvalid()
    {
        using var scratch = new ScratchDirectory();
        using var host = VmmHost.Load(PluginsJson);
        var file = scratch.Write("bad.json", "{ \"name\": \"n\", \"components\": { \"memory\": \"plain\" },\n  \"options\": { \"tdx.mac\": \"md5\" }, \"steps\": [] }");

        var result = host.Validate(file);

        Assert.Equal($"{file}:2:16: option \"tdx.mac\": unknown MAC \"md5\"; use \"aes\" or \"sha3\"", result.Error!.ToString());
    }

    [Fact]
    public void Load_RepositoryPluginsJson_LoadsEveryListedPluginFromItsBuildOutput()
    {
        using var host = VmmHost.Load(PluginsJson);

        var listed = ListedPlugins().Select(p => Path.GetFullPath(Path.Combine(TestPaths.RepoRoot, p.Path))).Order().ToList();
        Assert.Equal(listed, host.Plugins.Select(p => Path.GetFullPath(p.AssemblyPath)).Order().ToList());
    }

    [Fact]
    public void PluginsJson_EveryPluginIsBuiltByTheCli()
    {
        var cli = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "hosts", "Vmm.Cli", "Vmm.Cli.csproj"));
        var built = cli.Descendants("ProjectReference")
            .Where(r => (string?)r.Attribute("ReferenceOutputAssembly") == "false")
            .Select(r => Path.GetFileNameWithoutExtension(((string)r.Attribute("Include")!).Replace('\\', '/')))
            .ToHashSet();
        foreach (var (name, path) in ListedPlugins())
        {
            var project = Path.GetFileNameWithoutExtension(path);
            Assert.True(built.Contains(project), $"plugins.json lists {name} ({path}) but hosts/Vmm.Cli/Vmm.Cli.csproj does not build {project}");
        }
    }

    private static List<(string Name, string Path)> ListedPlugins()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(PluginsJson));
        return json.RootElement.GetProperty("plugins").EnumerateArray()
            .Select(p => (p.GetProperty("name").GetString()!, p.GetProperty("path").GetString()!))
            .ToList();
    }
}
