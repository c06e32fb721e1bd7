using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Vmm.Abstractions;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Options;

/// <summary>One settable option of an options class, as a scenario writes it ("linux.earlyKill") and `vmm plugins` shows it.</summary>
public sealed record OptionInfo(string Section, string Name, string Type, string Default, string Description)
{
    public string Key => $"{Section}.{Name}";
}

/// <summary>One value from a scenario's `options` for an options section.</summary>
public readonly record struct OptionValue(string Option, JsonElement Value, SourceLocation Location);

/// <summary>
/// Binds options classes from scenario values: start from <c>new T()</c>, then set each public settable
/// property named by an option (first letter in either case: "earlyKill" sets EarlyKill) by deserialising
/// the JSON value to the property's type.
/// </summary>
public static class OptionsBinder
{
    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The options a class offers, with their defaults, in declaration order.</summary>
    public static IReadOnlyList<OptionInfo> Describe(Type optionsType, string section)
    {
        ArgumentNullException.ThrowIfNull(optionsType);
        var defaults = Activator.CreateInstance(optionsType);
        return Settable(optionsType)
            .Select(p => new OptionInfo(
                section,
                OptionName(p),
                TypeName(p.PropertyType),
                JsonSerializer.Serialize(p.GetValue(defaults), p.PropertyType, SerializerOptions),
                p.GetCustomAttribute<OptionAttribute>()?.Description ?? ""))
            .ToList();
    }

    /// <summary>The option names a class offers ("earlyKill", "recovery").</summary>
    public static IReadOnlyList<string> OptionNames(Type optionsType) => Settable(optionsType).Select(OptionName).ToList();

    /// <summary>The property an option name sets, or null.</summary>
    public static PropertyInfo? FindProperty(Type optionsType, string option) =>
        Settable(optionsType).FirstOrDefault(p => string.Equals(p.Name, option, StringComparison.OrdinalIgnoreCase));

    public static TOptions Bind<TOptions>(string section, IEnumerable<OptionValue> values) where TOptions : class, new() =>
        (TOptions)Bind(typeof(TOptions), section, values);

    /// <summary>A new options object with the values applied; options the class lacks are left to the caller to reject.</summary>
    public static object Bind(Type optionsType, string section, IEnumerable<OptionValue> values)
    {
        ArgumentNullException.ThrowIfNull(optionsType);
        ArgumentNullException.ThrowIfNull(values);
        var options = Activator.CreateInstance(optionsType)
            ?? throw new InvalidOperationException($"{optionsType.Name} has no parameterless constructor.");
        foreach (var value in values)
        {
            var property = FindProperty(optionsType, value.Option);
            if (property is null) continue;
            property.SetValue(options, Convert(property, section, value));
        }
        return options;
    }

    /// <summary>Checks that the value fits the option's type; throws a <see cref="ScenarioException"/> naming the type otherwise.</summary>
    public static object? Convert(PropertyInfo property, string section, OptionValue value)
    {
        ArgumentNullException.ThrowIfNull(property);
        try
        {
            var converted = JsonSerializer.Deserialize(value.Value, property.PropertyType, SerializerOptions);
            if (converted is null && property.PropertyType.IsValueType && Nullable.GetUnderlyingType(property.PropertyType) is null)
                throw new JsonException();
            return converted;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            var raw = value.Value.GetRawText();
            if (raw.Length > 40) raw = raw[..37] + "...";
            throw new ScenarioException(
                $"option \"{section}.{OptionName(property)}\" expects {TypeName(property.PropertyType)}, not {raw}",
                value.Location);
        }
    }

    /// <summary>A type as the message and `vmm plugins` say it: "true or false", "an integer", "a number", "one of: A, B".</summary>
    public static string TypeName(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (Nullable.GetUnderlyingType(type) is { } underlying) return TypeName(underlying) + " or null";
        if (type.IsEnum) return "one of: " + string.Join(", ", Enum.GetNames(type));
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "true or false",
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64 => "an integer",
            TypeCode.Single or TypeCode.Double or TypeCode.Decimal => "a number",
            TypeCode.String => "a string",
            _ => type.Name,
        };
    }

    private static string OptionName(PropertyInfo property) =>
        char.ToLower(property.Name[0], CultureInfo.InvariantCulture) + property.Name[1..];

    private static IEnumerable<PropertyInfo> Settable(Type optionsType) =>
        optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            .OrderBy(p => p.MetadataToken);
}
