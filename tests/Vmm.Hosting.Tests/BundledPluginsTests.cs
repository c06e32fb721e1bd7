using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

/// <summary>A packaged vmm (the .NET tool, a test project with Vmm.Testing) carries plugins in vmm-plugins/ beside itself; the user's plugins.json adds to them.</summary>
public class BundledPluginsTests
{
    private static readonly string Fakes = TestPaths.TestPlugin("Vmm.TestPlugins.Fakes");

    private static string Program(ScratchDirectory scratch, params (string Name, string Path)[] bundled)
    {
        var program = Path.Combine(scratch.Path, "tool");
        var json = "{ \"plugins\": [" + string.Join(", ", bundled.Select(p => $"{{ \"name\": \"{p.Name}\", \"path\": {System.Text.Json.JsonSerializer.Serialize(p.Path)} }}")) + "] }";
        scratch.Write(Path.Combine("tool", PluginsLocator.BundledFolder, PluginsLocator.FileName), json);
        return program;
    }

    [Fact]
    public void FindAll_WithoutBundledPlugins_IsWhatFindFinds()
    {
        using var scratch = new ScratchDirectory();
        var user = scratch.Write("work/plugins.json", "{}");

        Assert.Equal([user], PluginsLocator.FindAll(null, null, Path.Combine(scratch.Path, "work"), [], Path.Combine(scratch.Path, "bin")));
        if (File.Exists(Path.Combine(Path.GetTempPath(), "plugins.json")) || File.Exists(Path.Combine(Path.GetPathRoot(scratch.Path)!, "plugins.json"))) return;
        Assert.Throws<PluginLoadException>(() => PluginsLocator.FindAll(null, null, Path.Combine(scratch.Path, "bin"), [], Path.Combine(scratch.Path, "bin")));
    }

    [Fact]
    public void FindAll_BundledAndNothingOfTheUsers_IsTheBundledOneAlone()
    {
        using var scratch = new ScratchDirectory();
        var program = Program(scratch);
        var elsewhere = Path.Combine(scratch.Path, "elsewhere");
        Directory.CreateDirectory(elsewhere);

        Assert.Equal([PluginsLocator.Bundled(program)!], PluginsLocator.FindAll(null, null, elsewhere, [], program));
    }

    [Fact]
    public void FindAll_Bundled_ThenTheUsers_FromTheOptionTheVariableTheCurrentFolderOrBesideTheScenarios()
    {
        using var scratch = new ScratchDirectory();
        var program = Program(scratch);
        var bundled = PluginsLocator.Bundled(program)!;
        var mine = scratch.Write("mine/plugins.json", "{}");
        var scenario = scratch.Write("mine/scenarios/a.json", "{}");
        var elsewhere = Path.Combine(scratch.Path, "elsewhere");
        Directory.CreateDirectory(elsewhere);

        Assert.Equal([bundled, mine], PluginsLocator.FindAll(mine, null, elsewhere, [], program));
        Assert.Equal([bundled, mine], PluginsLocator.FindAll(null, mine, elsewhere, [], program));
        Assert.Equal([bundled, mine], PluginsLocator.FindAll(null, null, Path.Combine(scratch.Path, "mine", "scenarios"), [], program));
        Assert.Equal([bundled, mine], PluginsLocator.FindAll(null, null, elsewhere, [scenario], program));
        Assert.Equal([bundled, mine], PluginsLocator.FindAll(null, null, elsewhere, [Path.GetDirectoryName(scenario)!], program));
    }

    [Fact]
    public void FindAll_AMissingExplicitFile_IsStillNamed_SoLoadingSaysItIsMissing()
    {
        using var scratch = new ScratchDirectory();
        var program = Program(scratch);
        var missing = Path.Combine(scratch.Path, "nope.json");

        Assert.Equal([PluginsLocator.Bundled(program)!, missing], PluginsLocator.FindAll(missing, null, scratch.Path, [], program));
    }

    [Fact]
    public void Load_SeveralFiles_LoadsEveryPlugin_AndALaterEntryReplacesTheSameAssemblyOfAnEarlierFile()
    {
        using var scratch = new ScratchDirectory();
        var first = scratch.Write("bundled/plugins.json", $$"""{ "plugins": [ { "name": "Fakes", "path": {{System.Text.Json.JsonSerializer.Serialize(Fakes)}} } ] }""");
        var copy = Path.Combine(scratch.Path, "mine", "Vmm.TestPlugins.Fakes.dll");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.Copy(Fakes, copy);
        File.Copy(Path.ChangeExtension(Fakes, ".deps.json"), Path.ChangeExtension(copy, ".deps.json"));
        var second = scratch.Write("mine/plugins.json", """{ "plugins": [ { "name": "MyFakes", "path": "Vmm.TestPlugins.Fakes.dll" } ] }""");

        using var host = VmmHost.Load([first, second]);

        var plugin = Assert.Single(host.Plugins);
        Assert.Equal(copy, plugin.AssemblyPath);
        Assert.Equal([first, second], host.PluginsFiles);
        Assert.Equal(second, host.PluginsFile);
    }

    [Fact]
    public void Load_SeveralFiles_AProblemInTheSecond_NamesThatFile()
    {
        using var scratch = new ScratchDirectory();
        var first = scratch.Write("bundled/plugins.json", $$"""{ "plugins": [ { "name": "Fakes", "path": {{System.Text.Json.JsonSerializer.Serialize(Fakes)}} } ] }""");
        var second = scratch.Write("mine/plugins.json", """{ "plugins": [ { "name": "Gone", "path": "gone.dll" } ] }""");

        var error = Assert.Throws<PluginLoadException>(() => VmmHost.Load([first, second]));

        Assert.StartsWith($"{second}: plugins[0] \"Gone\": file gone.dll not found", error.Message, StringComparison.Ordinal);
        Assert.Equal(second, error.PluginsFile);
    }
}
