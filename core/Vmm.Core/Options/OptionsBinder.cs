using System.ComponentModel.DataAnnotations;
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
/// property named by an option (its name with the first letter lower-case, exactly: "earlyKill" sets
/// EarlyKill) from the JSON value, which must have the property's type: true/false for bool, an integer in
/// range for integer types, a finite number for floating types, a string for strings, an enum member's exact
/// name for enums, and null only for nullable types. Then the class's own checks run
/// (System.ComponentModel.DataAnnotations attributes and <see cref="IValidatableObject"/>).
/// </summary>
public static class OptionsBinder
{
    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        Converters = { new JsonStringEnumConverter() },
    };

    private static readonly NullabilityInfoContext Nullability = new();

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

    /// <summary>The property an option name sets (exact match, as <see cref="OptionNames"/> spells it), or null.</summary>
    public static PropertyInfo? FindProperty(Type optionsType, string option) =>
        Settable(optionsType).FirstOrDefault(p => string.Equals(OptionName(p), option, StringComparison.Ordinal));

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

    /// <summary>Converts the value to the option's type; throws a <see cref="ScenarioException"/> naming the option and the type otherwise.</summary>
    public static object? Convert(PropertyInfo property, string section, OptionValue value)
    {
        ArgumentNullException.ThrowIfNull(property);
        var key = $"{section}.{OptionName(property)}";
        var type = property.PropertyType;
        var element = value.Value;
        ScenarioException Bad(string? expected = null, string hint = "") =>
            new($"option {NameHints.Quote(key)} expects {expected ?? TypeName(type)}, not {Raw(element)}{hint}", value.Location);

        var underlying = Nullable.GetUnderlyingType(type);
        if (element.ValueKind == JsonValueKind.Null)
            return underlying is not null || (!type.IsValueType && Nullability.Create(property).WriteState == NullabilityState.Nullable) ? null : throw Bad();
        var target = underlying ?? type;

        if (target.IsEnum)
        {
            var names = Enum.GetNames(target);
            if (element.ValueKind != JsonValueKind.String) throw Bad();
            var text = element.GetString()!;
            return names.Contains(text, StringComparer.Ordinal) ? Enum.Parse(target, text, ignoreCase: false) : throw Bad(hint: NameHints.DidYouMean(text, names));
        }
        switch (Type.GetTypeCode(target))
        {
            case TypeCode.Boolean:
                return element.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw Bad(),
                };
            case TypeCode.String:
                return element.ValueKind == JsonValueKind.String ? element.GetString() : throw Bad();
            case TypeCode.SByte or TypeCode.Byte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64:
            {
                if (element.ValueKind != JsonValueKind.Number || element.GetRawText().AsSpan().IndexOfAny('.', 'e', 'E') >= 0) throw Bad();
                var (min, max) = IntegerRange(target);
                return element.TryGetDecimal(out var number) && number >= min && number <= max
                    ? System.Convert.ChangeType(number, target, CultureInfo.InvariantCulture)
                    : throw Bad($"an integer from {min} to {max}");
            }
            case TypeCode.Single or TypeCode.Double:
            {
                if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var number)) throw Bad();
                if (!double.IsFinite(number) || (target == typeof(float) && !float.IsFinite((float)number))) throw Bad("a finite number");
                return target == typeof(float) ? (float)number : number;
            }
            case TypeCode.Decimal:
                return element.ValueKind == JsonValueKind.Number && element.TryGetDecimal(out var exact) ? exact : throw Bad();
        }
        try
        {
            var converted = JsonSerializer.Deserialize(element, type, SerializerOptions);
            if (converted is null && type.IsValueType && underlying is null) throw Bad();
            return converted;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw Bad();
        }
    }

    /// <summary>
    /// Runs an options object's own checks: DataAnnotations attributes on its properties, then
    /// <see cref="IValidatableObject.Validate"/>. The first failure is a <see cref="ScenarioException"/>
    /// "option "section.option": MESSAGE" at the option its first member name names (a property name or an
    /// option name), or, for an option left at its default, at the first option the scenario gave.
    /// </summary>
    public static void Validate(object options, string section, IReadOnlyList<OptionValue> given)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(given);
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true)) return;
        var result = results[0];
        var type = options.GetType();
        var named = result.MemberNames
            .Select(member => type.GetProperty(member) is { } property ? OptionName(property) : member)
            .ToList();
        var fromScenario = named.FirstOrDefault(option => given.Any(v => v.Option == option));
        var option = fromScenario ?? named.FirstOrDefault();
        var location = given.FirstOrDefault(v => v.Option == fromScenario).Location;
        if (fromScenario is null && given.Count > 0) location = given[0].Location;
        var key = option is null ? section : $"{section}.{option}";
        var left = option is not null && fromScenario is null ? " (left at its default)" : "";
        throw new ScenarioException($"option {NameHints.Quote(key)}{left}: {result.ErrorMessage}", location);
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

    private static (decimal Min, decimal Max) IntegerRange(Type type) => Type.GetTypeCode(type) switch
    {
        TypeCode.SByte => (sbyte.MinValue, sbyte.MaxValue),
        TypeCode.Byte => (byte.MinValue, byte.MaxValue),
        TypeCode.Int16 => (short.MinValue, short.MaxValue),
        TypeCode.UInt16 => (ushort.MinValue, ushort.MaxValue),
        TypeCode.Int32 => (int.MinValue, int.MaxValue),
        TypeCode.UInt32 => (uint.MinValue, uint.MaxValue),
        TypeCode.Int64 => (long.MinValue, long.MaxValue),
        _ => (ulong.MinValue, ulong.MaxValue),
    };

    private static string Raw(JsonElement element) => NameHints.Shorten(element.GetRawText());

    private static string OptionName(PropertyInfo property) =>
        char.ToLower(property.Name[0], CultureInfo.InvariantCulture) + property.Name[1..];

    private static IEnumerable<PropertyInfo> Settable(Type optionsType) =>
        optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            .OrderBy(p => p.MetadataToken);
}
