using System.Runtime.Loader;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

public class PluginLoadingTests
{
    private static readonly string Fakes = TestPaths.TestPlugin("Vmm.TestPlugins.Fakes");

    private static PluginLoadException LoadError(string pluginsJson) => Assert.Throws<PluginLoadException>(() => VmmHost.Load(pluginsJson));

    [Fact]
    public void Load_MissingPluginsJson_NamesTheFileAndHowToPointAtOne()
    {
        using var scratch = new ScratchDirectory();
        var path = Path.Combine(scratch.Path, "plugins.json");

        var error = LoadError(path);

        Assert.Equal($"{path}: plugins file not found; pass --plugins FILE, set VMM_PLUGINS, or run from the repository root (which has plugins.json)", error.Message);
        Assert.Equal(path, error.PluginsFile);
    }

    [Fact]
    public void Load_PluginsJsonWithBadJson_ReportsLineAndColumn()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.Write("plugins.json", "{\n  \"plugins\": [\n    { \"path\": \"a.dll\" }\n    { \"path\": \"b.dll\" }\n  ]\n}");

        var error = LoadError(path);

        Assert.StartsWith($"{path}:4:5: invalid JSON:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_PluginsJsonWithComments_IsAccepted()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.Write("plugins.json", $$"""
            {
              // the fakes only
              "plugins": [ { "name": "F", "path": {{System.Text.Json.JsonSerializer.Serialize(Fakes)}} }, ],
            }
            """);

        using var host = VmmHost.Load(path);

        Assert.Equal("Fakes", Assert.Single(host.Plugins).Name);
    }

    [Theory]
    [InlineData("""{ "plugin": [] }""", "unknown property \"plugin\"")]
    [InlineData("""{ }""", "plugins.json needs \"plugins\"")]
    [InlineData("""{ "plugins": {} }""", "\"plugins\" is a list")]
    [InlineData("""{ "plugins": [ "a.dll" ] }""", "plugins[0] is an object")]
    [InlineData("""{ "plugins": [ { "name": "A" } ] }""", "plugins[0] needs \"path\"")]
    [InlineData("""{ "plugins": [ { "path": "a.dll", "enabled": true } ] }""", "plugins[0]: unknown property \"enabled\"; use one of: name, path")]
    public void Load_MalformedPluginsJson_SaysWhatIsWrongWithLocation(string json, string message)
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.Write("plugins.json", json);

        var error = LoadError(path);

        Assert.StartsWith($"{path}:1:", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingPluginFile_NamesTheEntryAndHowToBuildIt()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.PluginsJson(("Ghost", "artifacts/plugins/Ghost/Ghost.dll"));

        var error = LoadError(path);

        Assert.Equal(
            $"{path}: plugins[0] \"Ghost\": file artifacts/plugins/Ghost/Ghost.dll not found (looked at {Path.Combine(scratch.Path, "artifacts", "plugins", "Ghost", "Ghost.dll")}); build it with: dotnet build hosts/Vmm.Cli",
            error.Message);
        Assert.Equal((0, "Ghost"), (error.PluginIndex, error.PluginName));
    }

    [Fact]
    public void Load_FileThatIsNotAnAssembly_ReportsTheLoadFailure()
    {
        using var scratch = new ScratchDirectory();
        scratch.Write("bad/Bad.dll", "this is not a PE file");
        var path = scratch.PluginsJson(("Bad", "bad/Bad.dll"));

        var error = LoadError(path);

        Assert.StartsWith($"{path}: plugins[0] \"Bad\": cannot load ", error.Message, StringComparison.Ordinal);
        Assert.Contains("BadImageFormatException", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_AssemblyWithoutPlugin_SaysItHasNoIVmmPlugin()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.PluginsJson(("NoPlugin", TestPaths.TestPlugin("Vmm.TestPlugins.NoPlugin")));

        var error = LoadError(path);

        Assert.Equal(
            $"{path}: plugins[0] \"NoPlugin\": Vmm.TestPlugins.NoPlugin has no public class implementing Vmm.Abstractions.IVmmPlugin with a parameterless constructor; add one, or remove the entry from plugins.json",
            error.Message);
    }

    [Fact]
    public void Load_PluginThatThrowsInConfigureServices_GivesItsMessageWithoutAStackTrace()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.PluginsJson(("Fakes", Fakes), ("Throws", TestPaths.TestPlugin("Vmm.TestPlugins.Throws")));

        var error = LoadError(path);

        Assert.Equal(
            $"{path}: plugins[1] \"Throws\": Vmm.TestPlugins.Throws.ThrowingPlugin.ConfigureServices threw InvalidOperationException: the throwing test plugin is broken on purpose; fix the plugin or remove it from plugins.json",
            error.Message);
        Assert.DoesNotContain("   at ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TwoPluginsRegisteringTheSameComponent_NamesBoth()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.PluginsJson(("Fakes", Fakes), ("Duplicate", TestPaths.TestPlugin("Vmm.TestPlugins.Duplicate")));

        var error = LoadError(path);

        Assert.Equal(
            $"{path}: plugins[1] \"Duplicate\": registers policy 'test-policy', which plugin 'Fakes' already registers; rename one or remove a plugin from plugins.json",
            error.Message);
    }

    [Fact]
    public void Load_RelativePluginPath_IsResolvedAgainstPluginsJson()
    {
        using var scratch = new ScratchDirectory();
        var relative = Path.GetRelativePath(scratch.Path, Fakes);
        var path = scratch.PluginsJson(("Fakes", relative));

        using var host = VmmHost.Load(path);

        Assert.Equal(Fakes, Assert.Single(host.Plugins).AssemblyPath);
    }

    [Fact]
    public void Load_FakesPlugin_ListsEachComponentWithItsSupplierAndOptions()
    {
        using var scratch = new ScratchDirectory();
        using var host = VmmHost.Load(scratch.PluginsJson(("Fakes", Fakes)));

        var fromPlugin = host.Components.Where(c => c.Name != "x86-64").ToList();
        Assert.Equal(
            ["memory test-memory", "policy test-policy", "thp test-thp", "faults test-faults", "pagetable test-pagetable"],
            fromPlugin.Select(c => $"{c.Kind.Key()} {c.Name}"));
        Assert.All(fromPlugin, c => Assert.Equal("Fakes", c.Supplier));
        Assert.Contains(host.Components, c => c.Kind == ComponentKind.PageTable && c.Name == "x86-64");
        var memory = fromPlugin[0];
        Assert.Equal("Inert memory controller for tests.", memory.Description);
        Assert.Equal(
            ["test-memory.lines an integer 64 Lines the fake pretends to track.", "test-memory.strict true or false false Whether the fake is strict."],
            memory.Options.Select(o => $"{o.Key} {o.Type} {o.Default} {o.Description}"));
        Assert.Empty(host.Components[1].Options);
    }

    [Fact]
    public void Load_FakesPlugin_SharesTheAbstractionsWithTheHost()
    {
        using var scratch = new ScratchDirectory();
        using var host = VmmHost.Load(scratch.PluginsJson(("Fakes", Fakes)));
        using var scope = host.Services.CreateScope();

        var memory = scope.ServiceProvider.GetRequiredKeyedService<IMemoryController>("test-memory");

        Assert.NotSame(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(memory.GetType().Assembly));
        Assert.Equal("Vmm.TestPlugins.Fakes.FakeMemory", memory.GetType().FullName);
    }

    [Fact]
    public void Load_SamePluginTwice_LoadsItsAssemblyOncePerProcess()
    {
        using var first = new ScratchDirectory();
        using var second = new ScratchDirectory();
        using var a = VmmHost.Load(first.PluginsJson(("Fakes", Fakes)));
        using var b = VmmHost.Load(second.PluginsJson(("Fakes", Fakes)));
        using var scopeA = a.Services.CreateScope();
        using var scopeB = b.Services.CreateScope();

        Assert.Same(
            scopeA.ServiceProvider.GetRequiredKeyedService<IPrivateMemoryPolicy>("test-policy").GetType(),
            scopeB.ServiceProvider.GetRequiredKeyedService<IPrivateMemoryPolicy>("test-policy").GetType());
    }

    [Fact]
    public void Load_EntryWithoutName_IsNamedAfterItsPluginClass()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.Write("plugins.json", $$"""{ "plugins": [ { "path": {{System.Text.Json.JsonSerializer.Serialize(Fakes)}} } ] }""");

        using var host = VmmHost.Load(path);

        Assert.Equal("Fakes", Assert.Single(host.Plugins).Name);
    }

    [Fact]
    public void CoreOptions_ListLinuxAndCostSections()
    {
        Assert.Contains(VmmHost.CoreOptions, o => o.Key == "linux.earlyKill" && o.Default == "false");
        Assert.Contains(VmmHost.CoreOptions, o => o.Key == "cost.tlbShootdown" && o.Default == "1500");
    }
}
