using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

public class PluginsLocatorTests
{
    [Fact]
    public void Find_ExplicitPath_WinsOverEverything()
    {
        using var scratch = new ScratchDirectory();
        scratch.Write("plugins.json", "{}");

        var found = PluginsLocator.Find("elsewhere/plugins.json", "/env/plugins.json", [scratch.Path]);

        Assert.Equal(Path.GetFullPath("elsewhere/plugins.json"), found);
    }

    [Fact]
    public void Find_EnvironmentVariable_WinsOverTheSearch()
    {
        using var scratch = new ScratchDirectory();
        scratch.Write("plugins.json", "{}");

        Assert.Equal("/env/plugins.json", PluginsLocator.Find(null, "/env/plugins.json", [scratch.Path]));
    }

    [Fact]
    public void Find_NothingGiven_SearchesUpwardFromEachStart()
    {
        using var scratch = new ScratchDirectory();
        var expected = scratch.Write("plugins.json", "{}");
        var deep = Path.Combine(scratch.Path, "a", "b");
        Directory.CreateDirectory(deep);

        Assert.Equal(expected, PluginsLocator.Find(null, null, [deep]));
    }

    [Fact]
    public void Find_NoPluginsJsonAnywhere_SaysHowToNameOne()
    {
        using var scratch = new ScratchDirectory();
        var root = Path.GetPathRoot(scratch.Path)!;
        if (File.Exists(Path.Combine(root, "plugins.json")) || File.Exists(Path.Combine(Path.GetTempPath(), "plugins.json"))) return;

        var error = Assert.Throws<PluginLoadException>(() => PluginsLocator.Find(null, "", [scratch.Path]));

        Assert.Equal($"no plugins.json found above {scratch.Path}; pass --plugins FILE or set VMM_PLUGINS", error.Message);
    }
}
