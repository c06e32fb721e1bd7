using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Options;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Baseline;
using Vmm.Plugins.HwPoison;
using Vmm.Plugins.Tdx;
using static Vmm.Core.Tests.Scenarios.ScenarioTestText;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>The core with the real Baseline, Tdx and HwPoison plugins, for validating scenarios as `vmm run` does.</summary>
internal static class RealPlugins
{
    private static readonly Lazy<ServiceProvider> Provider = new(() =>
    {
        var services = new ServiceCollection();
        services.AddVmmCore();
        new BaselinePlugin().ConfigureServices(services);
        new TdxPlugin().ConfigureServices(services);
        new HwPoisonPlugin().ConfigureServices(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    });

    public static IReadOnlyList<ScenarioWarning> Validate(string json) =>
        new ScenarioRunner(Provider.Value).Validate(ScenarioJson.Parse(json));
}

/// <summary>Every option type the binder supports, for null, wrong-typed and out-of-range values.</summary>
public sealed class EveryTypeOptions
{
    public bool Flag { get; set; }
    public int Count { get; set; }
    public long Big { get; set; }
    public uint Unsigned { get; set; }
    public byte Small { get; set; }
    public double Ratio { get; set; }
    public float Single { get; set; }
    public string Text { get; set; } = "";
    public string? MaybeText { get; set; }
    public int? MaybeCount { get; set; }
    public FakeMode Mode { get; set; }
}

/// <summary>
/// Option values: null or the wrong type is bad input naming the option and the type it takes; a value the
/// options class rejects is bad input whether or not its component is used; a valid option of a component
/// the run does not use is a warning.
/// </summary>
public class OptionValuesTests
{
    private static ScenarioException BindError(string value, string option)
    {
        using var document = JsonDocument.Parse(value);
        var property = OptionsBinder.FindProperty(typeof(EveryTypeOptions), option)!;
        var location = new SourceLocation("o.json", 3, 7);
        var error = Assert.Throws<ScenarioException>(() => OptionsBinder.Convert(property, "every", new OptionValue(option, document.RootElement.Clone(), location)));
        Assert.Equal(location, error.Location);
        return error;
    }

    private static object? Bound(string value, string option)
    {
        using var document = JsonDocument.Parse(value);
        var property = OptionsBinder.FindProperty(typeof(EveryTypeOptions), option)!;
        return OptionsBinder.Convert(property, "every", new OptionValue(option, document.RootElement.Clone(), default));
    }

    [Theory]
    [InlineData("null", "flag", "option \"every.flag\" expects true or false, not null")]
    [InlineData("\"true\"", "flag", "option \"every.flag\" expects true or false, not \"true\"")]
    [InlineData("1", "flag", "option \"every.flag\" expects true or false, not 1")]
    [InlineData("null", "count", "option \"every.count\" expects an integer, not null")]
    [InlineData("\"3\"", "count", "option \"every.count\" expects an integer, not \"3\"")]
    [InlineData("3.0", "count", "option \"every.count\" expects an integer, not 3.0")]
    [InlineData("1e3", "count", "option \"every.count\" expects an integer, not 1e3")]
    [InlineData("10000000000", "count", "option \"every.count\" expects an integer from -2147483648 to 2147483647, not 10000000000")]
    [InlineData("100000000000000000000000000000000000000", "big", "option \"every.big\" expects an integer from -9223372036854775808 to 9223372036854775807, not 100000000000000000000000000000000000000")]
    [InlineData("-1", "unsigned", "option \"every.unsigned\" expects an integer from 0 to 4294967295, not -1")]
    [InlineData("256", "small", "option \"every.small\" expects an integer from 0 to 255, not 256")]
    [InlineData("null", "ratio", "option \"every.ratio\" expects a number, not null")]
    [InlineData("1e400", "ratio", "option \"every.ratio\" expects a finite number, not 1e400")]
    [InlineData("1e39", "single", "option \"every.single\" expects a finite number, not 1e39")]
    [InlineData("[]", "ratio", "option \"every.ratio\" expects a number, not []")]
    [InlineData("null", "text", "option \"every.text\" expects a string, not null")]
    [InlineData("3", "text", "option \"every.text\" expects a string, not 3")]
    [InlineData("{}", "text", "option \"every.text\" expects a string, not {}")]
    [InlineData("\"5\"", "maybeCount", "option \"every.maybeCount\" expects an integer or null, not \"5\"")]
    [InlineData("null", "mode", "option \"every.mode\" expects one of: Quiet, Loud, not null")]
    [InlineData("1", "mode", "option \"every.mode\" expects one of: Quiet, Loud, not 1")]
    [InlineData("\"loud\"", "mode", "option \"every.mode\" expects one of: Quiet, Loud, not \"loud\" (did you mean \"Loud\"?)")]
    public void Convert_NullWrongTypeOrOutOfRange_NamesTheOptionAndItsType(string value, string option, string message)
    {
        Assert.Equal(message, BindError(value, option).Message);
    }

    [Theory]
    [InlineData("true", "flag", true)]
    [InlineData("-2147483648", "count", int.MinValue)]
    [InlineData("4294967295", "unsigned", uint.MaxValue)]
    [InlineData("255", "small", (byte)255)]
    [InlineData("0.25", "ratio", 0.25)]
    [InlineData("\"x\"", "text", "x")]
    [InlineData("null", "maybeText", null)]
    [InlineData("null", "maybeCount", null)]
    [InlineData("7", "maybeCount", 7)]
    [InlineData("\"Loud\"", "mode", FakeMode.Loud)]
    public void Convert_ValueOfTheRightType_IsBound(string value, string option, object? expected)
    {
        Assert.Equal(expected, Bound(value, option));
    }

    [Fact]
    public void FindProperty_MatchesTheOptionNameExactly()
    {
        Assert.NotNull(OptionsBinder.FindProperty(typeof(EveryTypeOptions), "maybeCount"));
        Assert.Null(OptionsBinder.FindProperty(typeof(EveryTypeOptions), "MaybeCount"));
        Assert.Null(OptionsBinder.FindProperty(typeof(EveryTypeOptions), "maybecount"));
    }

    [Theory]
    [InlineData("""{ "tdx.macKey": null }""", "null", "option \"tdx.macKey\" expects a string, not null")]
    [InlineData("""{ "tdx.mac": null }""", "null", "option \"tdx.mac\" expects a string, not null")]
    [InlineData("""{ "tdx.mac": 5 }""", "5", "option \"tdx.mac\" expects a string, not 5")]
    [InlineData("""{ "tdx.keyIdBits": 1e10 }""", "1e10", "option \"tdx.keyIdBits\" expects an integer, not 1e10")]
    [InlineData("""{ "tdx.keyIdBits": 99999999999 }""", "99999999999", "option \"tdx.keyIdBits\" expects an integer from -2147483648 to 2147483647, not 99999999999")]
    [InlineData("""{ "hwpoison.trackReason": "yes" }""", "\"yes\"", "option \"hwpoison.trackReason\" expects true or false, not \"yes\"")]
    [InlineData("""{ "linux.recovery": null }""", "null", "option \"linux.recovery\" expects true or false, not null")]
    [InlineData("""{ "cost.gup": 1e400 }""", "1e400", "option \"cost.gup\" expects a finite number, not 1e400")]
    public void PluginOption_NullOrWrongType_IsBadInputAtTheOption(string options, string value, string message)
    {
        var json = "{ \"name\": \"n\",\n  \"options\": " + options + ",\n  \"steps\": [] }";

        var error = Assert.Throws<ScenarioException>(() => RealPlugins.Validate(json));

        Assert.Equal(message, error.Message);
        Assert.Equal(At(json, "\"" + options.Split('"')[1] + "\""), error.Location);
        Assert.Contains(value, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "tdx.mac": "md5" }""", "\"tdx.mac\"", "option \"tdx.mac\": unknown MAC \"md5\"; use \"aes\" or \"sha3\"")]
    [InlineData("""{ "tdx.macKey": "0x1234" }""", "\"tdx.macKey\"", "option \"tdx.macKey\": the MAC key must be 16 bytes as 32 hex digits (e.g. \"0x00112233445566778899aabbccddeeff\"), not \"0x1234\"")]
    [InlineData("""{ "tdx.keyIdBits": 16 }""", "\"tdx.keyIdBits\"", "option \"tdx.keyIdBits\": must be 1..15, not 16")]
    [InlineData("""{ "tdx.privateKeyIds": 0 }""", "\"tdx.privateKeyIds\"", "option \"tdx.privateKeyIds\": TDX needs at least one private KeyID; use 1 or more")]
    [InlineData("""{ "tdx.keyIdBits": 4 }""", "\"tdx.keyIdBits\"", "option \"tdx.privateKeyIds\" (left at its default): must be 0..15 with 4 KeyID bits, not 32")]
    [InlineData("""{ "mktme.physicalAddressBits": 64 }""", "\"mktme.physicalAddressBits\"", "option \"mktme.physicalAddressBits\": must be 36..52, not 64")]
    [InlineData("""{ "hwpoison.maxSharedRanges": -1 }""", "\"hwpoison.maxSharedRanges\"", "option \"hwpoison.maxSharedRanges\": must be 0 or more, not -1")]
    public void PluginOption_TheComponentWouldReject_IsBadInputEvenWhenTheComponentIsNotUsed(string options, string at, string message)
    {
        // memory plain, policy none: neither tdx-*, mktme nor hwpoison-* is created in this run.
        var json = "{ \"name\": \"n\",\n  \"options\": " + options + ",\n  \"steps\": [] }";

        var error = Assert.Throws<ScenarioException>(() => RealPlugins.Validate(json));

        Assert.Equal(message, error.Message);
        Assert.Equal(At(json, at), error.Location);
    }

    [Fact]
    public void PluginOption_ValidButForAnUnusedComponent_IsAWarningAtTheOption()
    {
        var json = "{ \"name\": \"n\", \"components\": { \"memory\": \"plain\" },\n  \"options\": { \"tdx.mac\": \"sha3\", \"hwpoison\": { \"trackReason\": true }, \"linux.earlyKill\": true },\n  \"steps\": [] }";

        var warnings = RealPlugins.Validate(json);

        Assert.Equal(
        new[]
        {
            new ScenarioWarning("option \"tdx.mac\" has no effect: \"tdx\" options are for memory tdx-ci, tdx-li, and this run uses memory plain", At(json, "\"tdx.mac\"")),
            new ScenarioWarning("option \"hwpoison.trackReason\" has no effect: \"hwpoison\" options are for policy hwpoison-v1, hwpoison-v2, and this run uses policy none", At(json, "\"trackReason\"")),
        }, warnings.OrderBy(w => w.Location.Column));
        var tdx = warnings.Single(w => w.Message.Contains("tdx", StringComparison.Ordinal));
        Assert.Equal($"{At(json, "\"tdx.mac\"")}: warning: {tdx.Message}", tdx.ToString());
    }

    [Fact]
    public void PluginOption_ForAUsedComponent_IsNoWarning()
    {
        var json = """{ "name": "n", "components": { "memory": "tdx-li", "policy": "hwpoison-v2" }, "options": { "tdx.partialWriteErratum": true, "hwpoison.maxSharedRanges": 4 }, "steps": [] }""";

        Assert.Empty(RealPlugins.Validate(json));
    }
}
